"""Fit the reader's metrical and tonal profiles on the composer's training tunes.

    python -m scripts.fit_melody_profiles build/corpus.txt   # writes models/melody-profiles.json

The corpus is the data_v2 file the LSTM was trained on (``listener tunes corpus``). The profiles
are counted on its training split (:func:`~listener.tunes.corpus.split_corpus`) less its last
``CALIBRATION`` tunes, on which the meter and key probabilities are then calibrated
(temperature scaling); the key head is fitted on the counted tunes' phrases, played humanised
(:func:`~listener.transcribe.profiles.fit_key_head`); the reader is scored on the validation
split's 4-bar phrases, from the notes as played (clean and humanised, no sound). The figures
go into the model's provenance.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

from listener.transcribe.evaluate import (
    calibrate,
    evaluate_reading,
    key_examples,
    tunes_for_evaluation,
)
from listener.transcribe.profiles import fit_key_head, fit_profiles
from listener.tunes.corpus import read_data_v2, split_corpus

#: Training tunes kept out of the counts, to calibrate the probabilities on.
CALIBRATION = 200
OUTPUT = Path(__file__).resolve().parent.parent / "models" / "melody-profiles.json"


def main(argv: list[str] | None = None) -> int:
    """Fit, score, save."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="data_v2 corpus (listener tunes corpus -o)")
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    if not args.corpus.exists():
        sys.exit(
            f"{args.corpus}: no corpus; write it with `listener tunes corpus -o {args.corpus}`"
        )
    train, _ = split_corpus(read_data_v2(args.corpus))
    counted, held = train[:-CALIBRATION], train[-CALIBRATION:]
    profiles = fit_profiles(counted, source=str(args.corpus))
    profiles.provenance["date"] = datetime.date.today().isoformat()
    profiles.provenance["split"] = (
        f"training split of split_corpus (95%, seed 0), less its last {CALIBRATION} tunes"
    )
    single = [t for t in held if not any(x.startswith(("M:", "K:")) for x in t.body)]
    profiles.provenance["calibration"] = {"tunes": len(single), **calibrate(single, profiles)}
    print(f"calibrated: {profiles.provenance['calibration']}; fitting the key head", flush=True)
    counted_single = [t for t in counted if not any(x.startswith(("M:", "K:")) for x in t.body)]
    profiles.key_head = fit_key_head(*key_examples(counted_single, profiles))
    print(f"key head: {profiles.key_head['fit']}", flush=True)
    valid = tunes_for_evaluation(args.corpus)
    profiles.provenance["reading_validation"] = {
        "tunes": len(valid),
        "what": "4-bar phrases of the validation split, read from the notes as played",
        **evaluate_reading(valid, profiles),
    }
    profiles.save(args.output)
    print(f"wrote {args.output}: {profiles.provenance}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
