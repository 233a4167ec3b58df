"""``listener transcribe``: a recorded melody as ABC, JSON or MIDI; or how well that works."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from listener.errors import ConfigError

_EPILOG = """\
what it does: the recording goes through the live path block by block (pitch, then notes);
  the notes are placed on a grid of sixteenths that follows the player's tempo, and the meter,
  its downbeat and the key are the reading folk tunes make likeliest (profiles counted on the
  composer's training tunes); the likeliest two meters and three keys in each are written out
  and the composer's own likelihood of each writing joins in (--profiles-only leaves it out).
  A reading the data leave open says so under "ambiguity"; --meter and --key fix what the
  player knows.
formats:
  abc   the melody in the key it was played in (X:, M:, L:1/8, K:, bars)
  json  {tempo, meter, key {tonic, mode}, notes [{onset, offset, pitch}], tokens (data_v2, in C),
        abc, confidence, ambiguity}
  mid   the notes on their grid at the heard tempo, with the meter
evaluation (--evaluate): the composer's validation tunes (at least 200), each played clean and
  humanised by a flute, fiddle, whistle or voice (fluidsynth when installed, the built-in
  synthesiser too), heard, and scored: COnP, COnPOff (mir_eval), and per 4-bar phrase the meter,
  the key and the share of bars whose tokens equal the tune's (the humanised phrases also as
  in trading, the reader told each is 4 bars, and as a conversation, each read with the one
  before carried); each humanised first phrase answered as a call (the start against the
  player's beat, after the last note, the work); phrase ends heard inside whole performances.
  About 4 minutes for the 209 tunes here.
examples:
  listener transcribe reel.wav
  listener transcribe air.flac --meter 3/4 --key Dmix --format json
  listener transcribe jig.wav --format mid -o jig.mid
  listener tunes corpus -o build/corpus.txt && listener transcribe --evaluate --json
"""


def register(commands) -> None:
    """Add ``transcribe`` to the command line."""
    p = commands.add_parser(
        "transcribe",
        help="a recorded melody as ABC, JSON or MIDI (or --evaluate how well it is heard)",
        description="Hear a melody in a recording (any format libsndfile reads; one instrument "
        "or voice) and write it in folk-rnn's terms: tempo, meter, key, bars.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file", type=Path, nargs="?", help="audio file (not with --evaluate)")
    p.add_argument("--meter", help="the meter when you know it: 6/8, 4/4, ... (folk-rnn's seven)")
    p.add_argument("--key", help="the key when you know it: D, Dmix, F#min, Bbdor")
    p.add_argument("--format", choices=("abc", "json", "mid"), default="abc", help="default abc")
    p.add_argument("-o", "--output", type=Path, help="write here (mid needs it)")
    p.add_argument(
        "--composer",
        type=Path,
        help="the composer's ONNX model, whose judgement of each candidate reading joins the "
        "profiles' (default: the shipped one)",
    )
    p.add_argument(
        "--profiles-only",
        action="store_true",
        help="read by the profiles alone, without the composer's judgement (quicker; meter and "
        "key right less often)",
    )
    p.add_argument("--profiles", type=Path, help=argparse.SUPPRESS)
    group = p.add_argument_group("evaluation")
    group.add_argument("--evaluate", action="store_true", help="score hearing on rendered tunes")
    group.add_argument(
        "--corpus",
        type=Path,
        default=Path("build/corpus.txt"),
        help="the composer's data_v2 corpus, whose validation split is played "
        "(default build/corpus.txt; write it with `listener tunes corpus -o`)",
    )
    group.add_argument("--tunes", type=int, help="only the first N validation tunes")
    group.add_argument(
        "--synth",
        choices=("builtin", "fluidsynth"),
        action="append",
        help="which synthesiser plays (repeat for both; default: both where fluidsynth is "
        "installed)",
    )
    group.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``listener transcribe``."""
    from listener.transcribe.profiles import DEFAULT_PROFILES, MelodyProfiles

    profiles = MelodyProfiles.load(args.profiles or DEFAULT_PROFILES)
    likelihood = None
    if not args.profiles_only:
        from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

        likelihood = FolkLSTM(args.composer or DEFAULT_FOLK_MODEL).likelihood
    if args.evaluate:
        return _evaluate(args, profiles, likelihood)
    if args.file is None:
        raise ConfigError("transcribe needs an audio file (or --evaluate)")
    if args.format == "mid" and args.output is None:
        raise ConfigError("--format mid writes a binary file: give -o FILE.mid")
    from listener.audio.io import load_audio
    from listener.transcribe import notes_of
    from listener.transcribe.tokens import read_notes

    notes = notes_of(load_audio(args.file))
    if len(notes) < 2:
        raise ConfigError(
            f"{args.file}: {len(notes)} note(s) heard; transcribe needs a melody (one "
            "instrument or voice, louder than -50 dBFS)"
        )
    try:
        reading = read_notes(notes, profiles, meter=args.meter, key=args.key, likelihood=likelihood)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    title = args.file.stem
    abc = reading.heard_tune().abc(title=title)
    if args.format == "mid":
        from listener.midi import write_midi

        write_midi(reading.events, args.output, tempo=reading.tempo, meter=reading.meter)
        print(f"wrote {args.output}: {len(reading.events)} notes", file=sys.stderr)
        return 0
    if args.format == "json":
        text = json.dumps(describe(reading, notes, abc=abc), indent=1) + "\n"
    else:
        text = abc
    if args.output is not None:
        args.output.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def describe(reading, notes, *, abc: str) -> dict:
    """Build the object ``--format json`` prints: what was heard and how it reads."""
    from listener.transcribe.notes import as_json

    return {
        "tempo": round(reading.tempo, 2),
        "meter": reading.meter[2:],
        "key": {"tonic": reading.tonic, "mode": reading.mode},
        "swung": reading.swung,
        "notes": as_json(notes),
        "tokens": " ".join(reading.tokens),
        "abc": abc,
        "confidence": reading.confidence,
        "ambiguity": reading.ambiguity,
    }


def _evaluate(args: argparse.Namespace, profiles, likelihood) -> int:
    from listener.transcribe.evaluate import (
        default_synths,
        evaluate,
        fluidsynth_available,
        tunes_for_evaluation,
    )

    try:
        tunes = tunes_for_evaluation(args.corpus)
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    if args.tunes is not None:
        tunes = tunes[: args.tunes]
    synths = args.synth or default_synths()
    if "fluidsynth" in synths and not fluidsynth_available():
        raise ConfigError(
            "fluidsynth or its sound font is missing: apt-get install fluidsynth "
            "(brings /usr/share/sounds/sf2/TimGM6mb.sf2), or use --synth builtin"
        )

    def progress(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            print(f"  {done}/{total} performances heard", file=sys.stderr)

    print(f"playing {len(tunes)} tunes clean and humanised ({', '.join(synths)})", file=sys.stderr)
    figures = evaluate(tunes, profiles, synths=synths, progress=progress, likelihood=likelihood)
    if args.json:
        print(json.dumps(figures, indent=1))
        return 0
    print(f"{'':28} {'COnP':>6} {'COnPOff':>8} {'phrases':>8} {'meter':>6} {'key':>6} {'bars':>6}")
    for name in ("clean", "humanised"):
        for part, row in figures[name].items():
            if not isinstance(row, dict):
                continue
            print(
                f"{name + ' ' + part:28} {row['conp']:6.3f} {row['conpoff']:8.3f} "
                f"{row['phrases']:8d} {row['meter']:6.3f} {row['key']:6.3f} {row['bars']:6.3f}"
            )
        whole = figures[name]
        print(
            f"{name + ' (all)':28} {whole['conp']:6.3f} {whole['conpoff']:8.3f} "
            f"{whole['phrases']:8d} {whole['meter']:6.3f} {whole['key']:6.3f} {whole['bars']:6.3f}"
        )
    for name, key in (
        ("humanised, trading (4 bars)", "trading"),
        ("humanised, a conversation", "conversation"),
    ):
        row = figures[key]
        print(
            f"{name:28} {'':6} {'':8} "
            f"{row['phrases']:8d} {row['meter']:6.3f} {row['key']:6.3f} {row['bars']:6.3f}"
        )
    answers = figures["answers"]
    if answers["answered"]:
        beat, after, work = answers["beat_error_ms"], answers["after_quarters"], answers["work_ms"]
        print(
            f"answers to {answers['answered']} humanised calls: start against the player's beat "
            f"p50 {beat['p50']:.0f} ms, p95 {beat['p95']:.0f} ms; after the last note p50 "
            f"{after['p50']:.2f}, p95 {after['p95']:.2f} quarter notes "
            f"({100 * after['within_two']:.0f}% within two; "
            f"{100 * answers['after_beats']['within_two']:.0f}% within two of the meter's "
            f"beats); work after the phrase's end p50 {work['p50']:.0f} ms, "
            f"p95 {work['p95']:.0f} ms (read ahead in {100 * answers['read_ahead']:.0f}%; "
            f"the reading p50 {answers['read_ms']['p50']:.0f} ms, "
            f"p95 {answers['read_ms']['p95']:.0f} ms)"
        )
        right = answers["beat_error_ms_meter_read_right"]
        if right["calls"]:
            print(
                f"  where the meter was read right ({right['calls']} calls): start against the "
                f"player's beat p50 {right['p50']:.0f} ms, p95 {right['p95']:.0f} ms"
            )
    print(
        f"false phrase ends: {answers['false_phrase_ends']} in {answers['minutes_played']:.1f} "
        f"minutes of playing ({answers['false_ends_per_5_minutes']:.2f} per 5 minutes)"
    )
    return 0
