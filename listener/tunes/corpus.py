"""The training corpus: public-domain ABC collections bundled with music21, as data_v2.

Only the collections believed public domain are read (O'Neill's 1850, Ryan's Mammoth, Aird's
Airs, a few folk tunes); music21 is used to find them on disk, nothing else. Every tune goes
through :func:`~listener.tunes.reading.tune_from_abc`; one that folk-rnn's tokens cannot express is
dropped and counted by reason, and a tune already seen (the same tokens) is kept once. The same
files always give the same corpus, in the same order.
"""

from __future__ import annotations

import importlib.util
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from listener.errors import ConfigError, DataError
from listener.tunes.notation import AbcError
from listener.tunes.reading import split_tunes, tune_from_abc
from listener.tunes.tune import Tune

#: The music21 collections the corpus is made of (essenFolksong is left out: non-commercial).
COLLECTIONS = ("oneills1850", "ryansMammoth", "airdsAirs", "miscFolk")


def collection_files(collections: tuple[str, ...] = COLLECTIONS) -> list[Path]:
    """List the .abc files of the collections in the installed music21 package, sorted."""
    spec = importlib.util.find_spec("music21")
    if spec is None or spec.origin is None:
        raise DataError("the corpus is read from music21's bundled ABC files: pip install music21")
    root = Path(spec.origin).parent / "corpus"
    files = []
    for name in collections:
        found = sorted((root / name).rglob("*.abc"))
        if not found:
            raise DataError(f"{root / name}: no .abc files; is music21 complete?")
        files.extend(found)
    return files


def build_corpus(files: list[Path]) -> tuple[list[Tune], Counter]:
    """Tokenise every tune of the files; return the distinct tunes and the counts of drops.

    Returns
    -------
    tunes : list of Tune
        In file order, each distinct token sequence once.
    counts : collections.Counter
        ``kept``, ``duplicate`` and, per reason, the tunes dropped.
    """
    tunes: list[Tune] = []
    seen: set[tuple[str, ...]] = set()
    counts: Counter = Counter()
    for file in files:
        text = file.read_bytes().decode("utf-8", errors="replace")
        for headers, body in split_tunes(text):
            try:
                tune = tune_from_abc(headers, body)
            except AbcError as exc:
                counts[exc.reason] += 1
                continue
            key = tuple(tune.tokens())
            if key in seen:
                counts["duplicate"] += 1
                continue
            seen.add(key)
            tunes.append(tune)
            counts["kept"] += 1
    return tunes, counts


def write_data_v2(tunes: list[Tune], path: str | Path) -> None:
    """Write tunes in data_v2 format: three lines each, a blank line between tunes."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(t.data_v2() for t in tunes))
    except OSError as exc:
        raise DataError(f"{path}: cannot write the corpus ({exc.strerror})") from exc


def read_data_v2(path: str | Path) -> list[Tune]:
    """Read a data_v2 file back into tunes."""
    tunes = []
    for block in Path(path).read_text().split("\n\n"):
        lines = [line.strip() for line in block.strip().splitlines()]
        if len(lines) >= 3:
            tunes.append(Tune(lines[0], lines[1], lines[2].split()))
    return tunes


def split_corpus(tunes: list, *, seed: int = 0, share: float = 0.05) -> tuple[list, list]:
    """Split tunes into training and validation as ``scripts/train_folk_lstm.py`` does.

    A seeded permutation; its first ``share`` (at least one) is the validation split. Whatever
    else is fitted on the corpus fits on the same training split, so that the validation tunes
    stay unseen by all of it.
    """
    order = np.random.default_rng(seed).permutation(len(tunes))
    held = max(1, round(share * len(tunes)))
    return [tunes[i] for i in order[held:]], [tunes[i] for i in order[:held]]


def read_tunes(path: str | Path) -> list[tuple[Tune, bool]]:
    """Tunes of an ABC file (in their written keys) or a data_v2 file, each with "it ended".

    Changes of meter, and of mode on the tune's tonic, are read as the tokens the composer
    writes for them; ABC tunes that folk-rnn's tokens cannot express otherwise are skipped with
    a line on stderr.
    """
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    text = path.read_text(errors="replace")
    if "X:" not in text:
        return [(t, True) for t in read_data_v2(path)]
    tunes = []
    for headers, body in split_tunes(text):
        try:
            tune = tune_from_abc(headers, body, changes=True)
        except AbcError as exc:
            print(f"skipped tune X:{headers.get('X')}: {exc}", file=sys.stderr)
            continue
        tunes.append((tune, "token cap" not in headers.get("T", "")))
    return tunes
