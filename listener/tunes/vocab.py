"""The folk-rnn v2 vocabulary: 137 tokens, in the model's index order (Sturm et al. 2016).

Start and end marks, 7 meters, 4 modes of C, bar lines and chord brackets, tuplets, durations
and broken rhythms, 84 pitches from C, (C3) to b' (B6) with their accidentals, and the rest z.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from listener.errors import ConfigError

#: The tokens, index i being the model's input and output i.
VOCAB: tuple[str, ...] = (
    "d'",
    "=A,",
    "^c'",
    "=e",
    "=d",
    "=g",
    "=f",
    "=a",
    "=c",
    "=b",
    "_G",
    "_E",
    "_D",
    "_C",
    "_B",
    "_A",
    "2<",
    "2>",
    "=E",
    "=D",
    "_B,",
    "=F",
    "=A",
    "4",
    "=C",
    "=B",
    "_g",
    "8",
    "_e",
    "_d",
    "_c",
    "<",
    "_a",
    "(9",
    "|2",
    "D",
    "|1",
    "(2",
    "(3",
    "|:",
    "(7",
    "(4",
    "(5",
    ":|",
    "9",
    "3/2",
    "3/4",
    "=f'",
    "2",
    "d",
    "_E,",
    "B,",
    "16",
    "|",
    "^A,",
    "b'",
    "_e'",
    "M:9/8",
    "E,",
    "</s>",
    "3",
    "7",
    "^F,",
    "=G,",
    "C",
    "G",
    "e'",
    "_d'",
    "^f'",
    "[",
    "b",
    "c",
    "z",
    "g",
    "^G,",
    "=F,",
    "K:Cmin",
    "K:Cmix",
    "=c'",
    "C,",
    "<s>",
    "]",
    "=G",
    "M:12/8",
    "6",
    "=E,",
    "K:Cmaj",
    ">",
    "B",
    "F",
    "c'",
    "^C,",
    "5/2",
    "G,",
    "f",
    "=e'",
    "_b",
    "_A,",
    "F,",
    "/2>",
    "/2<",
    "f'",
    "M:6/8",
    "4>",
    "M:4/4",
    "A,",
    "M:2/4",
    "=C,",
    "5",
    "M:3/4",
    "12",
    "M:3/2",
    "K:Cdor",
    "A",
    "E",
    "a'",
    "(6",
    "^A",
    "^C",
    "^D",
    "^F",
    "^G",
    "a",
    "g'",
    "D,",
    "/4",
    "e",
    "/3",
    "7/2",
    "=B,",
    "/8",
    "^a",
    "^c",
    "^d",
    "/2",
    "^f",
    "^g",
)
#: Token to index.
INDEX: dict[str, int] = {t: i for i, t in enumerate(VOCAB)}
METERS = tuple(t for t in VOCAB if t.startswith("M:"))
MODES = tuple(t[3:] for t in VOCAB if t.startswith("K:"))
START, END = "<s>", "</s>"


def check_tokens(tokens: Iterable[str], what: str = "tokens") -> list[str]:
    """Return the tokens as a list, or raise naming the first unknown one and its neighbours.

    Raises
    ------
    ConfigError
        A token is not in the vocabulary; the message suggests the closest valid ones.
    """
    out = list(tokens)
    for token in out:
        if token not in INDEX:
            close = difflib.get_close_matches(token, VOCAB, n=4, cutoff=0.3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise ConfigError(f"{what}: {token!r} is not a folk-rnn v2 token{hint}")
    return out
