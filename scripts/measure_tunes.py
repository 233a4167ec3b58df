"""Measure the composer's tunes against issue 13's targets, constrained and unconstrained.

    python -m scripts.measure_tunes                    # seeds 1-100, and 200 fresh ones
    python -m scripts.measure_tunes --fresh 10001      # where the fresh seeds start
    python -m scripts.measure_tunes --validation build/corpus.txt   # and the validation split

For seeds 1-100 (temperature 1, the model choosing meter and mode), constrained and then
unconstrained: the share that end, of full bars that fit the meter (``tunes check``), with
balanced repeats and well formed; the bar lines ``abc2midi -c`` flags outside repeats, against
all bar lines; the tunes abc2midi reports an error for; and what the mask cost (mean log
probability of the sampled tokens as the model gave them and within the mask, the share of
steps where it took more than 10% of the mass). For 200 fresh seeds, constrained: how many play
through ``tunes play``'s path (the ABC file read back, interpreted), and how many of those are
note-identical to abc2midi at 1/48 beat. And the sampling step's time with the mask and without
it, in the same run. With ``--validation CORPUS`` (the data_v2 file the model was trained on),
also the validation split's tunes as the training script drew them (5%, seed 0), fed to the
model token by token: the mean log probability of their real tokens with and without the mask,
the share of those tokens the grammar refuses, and of steps where the mask takes more than 10%
of the mass. Needs abc2midi (Debian's abcmidi).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from listener.tunes.check import check_tunes, mask_cost
from listener.tunes.corpus import read_tunes
from listener.tunes.interpret import interpret
from listener.tunes.lstm import FolkLSTM
from listener.tunes.tune import Tune
from tests.harness.abc2midi import abc2midi_notes, same_notes


def _generate(model: FolkLSTM, seeds, constrained: bool):
    tunes, ended, record, seconds, steps = [], [], [], 0.0, 0
    for seed in seeds:
        start = time.perf_counter()
        tokens = list(model.generate(seed=seed, constrained=constrained, record=record))
        seconds += time.perf_counter() - start
        steps += len(tokens)
        tune, done = Tune.from_sampled(tokens)
        tunes.append(tune.cleaned()[0])
        ended.append(done)
    return tunes, ended, record, 1e3 * seconds / max(steps, 1)


def _abc2midi_figures(tunes: list[Tune], folder: Path) -> dict:
    path = folder / "all.abc"
    path.write_text("\n".join(t.abc(i + 1) for i, t in enumerate(tunes)))
    flagged = bar_lines = errors = 0
    for i, tune in enumerate(tunes):
        one = folder / "one.abc"
        one.write_text(tune.abc(i + 1))
        out = subprocess.run(["abc2midi", str(one), "-c"], capture_output=True, text=True)
        text = out.stdout + out.stderr
        flagged += sum(
            "time units" in line and not line.endswith("in repeat") for line in text.splitlines()
        )
        errors += "Error" in text
        bar_lines += sum(t in ("|", "|:", ":|", "|1", "|2") for t in tune.body)
    return {
        "bar_lines": bar_lines,
        "flagged_outside_repeats": flagged,
        "flagged_share": round(flagged / max(bar_lines, 1), 4),
        "tunes_with_errors": errors,
    }


def _parity(tunes: list[Tune], folder: Path) -> dict:
    path = folder / "fresh.abc"
    path.write_text("\n".join(t.abc(i + 1) for i, t in enumerate(tunes)))
    played = identical = 0
    for tune, _ in read_tunes(path):  # tunes play's path: the file read back
        notes = [(n.onset, n.pitch, n.duration) for n in interpret(tune.tokens())]
        played += bool(notes)
        want, accepted = abc2midi_notes(tune.abc(), folder, "abc2midi")
        identical += accepted and same_notes(notes, want)
    return {"tunes": len(tunes), "played": played, "identical_to_abc2midi": identical}


def main() -> int:
    """Run the measurements and print one JSON object."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", type=int, default=20001, help="first of the 200 fresh seeds")
    parser.add_argument("--validation", type=Path, help="the training corpus (data_v2)")
    args = parser.parse_args()
    model = FolkLSTM()
    result = {}
    if args.validation:
        result["validation"] = _validation(model, args.validation)
    with tempfile.TemporaryDirectory() as folder:
        for constrained in (True, False):
            tunes, ended, record, step_ms = _generate(model, range(1, 101), constrained)
            figures = check_tunes(tunes, ended)
            figures.update(_abc2midi_figures(tunes, Path(folder)))
            figures["sampling"] = mask_cost(record)
            figures["generate_ms_per_token"] = round(step_ms, 4)
            result["constrained" if constrained else "unconstrained"] = figures
        fresh, _, _, _ = _generate(model, range(args.fresh, args.fresh + 200), True)
        result["fresh"] = {"seeds": [args.fresh, args.fresh + 199], **_parity(fresh, Path(folder))}
    result["step_ms"] = _step_times(model)
    print(json.dumps(result, indent=1))
    return 0


def _validation(model: FolkLSTM, corpus: Path) -> dict:
    # the real tokens of the validation tunes, under the model, within the grammar's mask
    from listener.tunes.corpus import read_data_v2, split_corpus
    from listener.tunes.grammar import TuneGrammar
    from listener.tunes.lstm import step_cost
    from listener.tunes.vocab import END, INDEX, START

    _, valid = split_corpus(read_data_v2(corpus))  # as train_folk_lstm.py draws it
    record = []
    for tune in valid:
        grammar = TuneGrammar()
        h, c = model.initial_state()
        logits, h, c = model.step(INDEX[START], h, c)
        for token in [*tune.tokens(), END]:
            record.append(step_cost(logits.astype(np.float64), INDEX[token], grammar))
            grammar.advance(token)
            logits, h, c = model.step(INDEX[token], h, c)
    return {"tunes": len(valid), **mask_cost(record)}


def _step_times(model: FolkLSTM) -> dict:
    # the step as the sampler pays it, with the mask and without, alternating passes
    times: dict[str, list[float]] = {"masked": [], "plain": []}
    for _ in range(3):
        for constrained, key in ((True, "masked"), (False, "plain")):
            sampled = model.generate(seed=7, constrained=constrained, max_tokens=400)
            last = time.perf_counter()
            for _token in sampled:
                now = time.perf_counter()
                times[key].append(now - last)
                last = now
    return {k: round(float(np.percentile(v, 50)) * 1e3, 4) for k, v in times.items()} | {
        f"{k}_p99": round(float(np.percentile(v, 99)) * 1e3, 4) for k, v in times.items()
    }


if __name__ == "__main__":
    raise SystemExit(main())
