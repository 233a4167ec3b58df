"""``listener tunes``: the composer's corpus, generating, checking and playing tunes."""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

from listener.cli import options
from listener.errors import ConfigError
from listener.tunes.tune import Tune

#: Beats of silence between tunes played one after another.
GAP_BEATS = 2


def register(commands) -> None:
    """Add ``tunes`` and its actions to the command line."""
    tunes = commands.add_parser(
        "tunes",
        help="folk tunes: corpus, generate, check, play",
        description="Folk tunes in folk-rnn's v2 tokens (Sturm et al. 2016).",
    )
    tunes.set_defaults(func=None, help_parser=tunes)
    sub = tunes.add_subparsers(dest="tunes_command", metavar="ACTION")
    corpus = sub.add_parser(
        "corpus",
        help="write the training corpus (data_v2) from music21's ABC collections",
        description="Read the public-domain ABC collections bundled with music21 (O'Neill's "
        "1850, Ryan's Mammoth, Aird's Airs, misc folk), transpose every tune to C (maj, min, "
        "dor or mix), normalise it to L:1/8 and write it in folk-rnn's data_v2 format. Tunes "
        "the 137 tokens cannot express are dropped and counted by reason; repeats kept once.",
    )
    corpus.add_argument("-o", "--output", type=Path, required=True, help="data_v2 file")
    corpus.set_defaults(func=run_corpus)
    gen = sub.add_parser(
        "generate",
        help="compose tunes with the folk-rnn model, written as ABC",
        description="Sample tunes token by token from the folk-rnn model (onnxruntime) and "
        "write them as ABC (X:, T:, M:, L:1/8, K:, then the body) that abc2midi and abcm2ps "
        "read. The same seed and settings always give the same tune.",
        epilog="examples:\n  listener tunes generate --seed 1 --meter 6/8 --mode dor\n"
        "  listener tunes generate --prime 'M:4/4 K:Cmaj c d c' --count 5 -o tunes.abc",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    options.add_generation(gen)
    gen.add_argument("--max-tokens", type=int, default=1000, help="cap (default 1000)")
    gen.add_argument("--count", type=int, default=1, help="tunes, seeds seed..seed+count-1")
    gen.add_argument("-o", "--output", type=Path, help="ABC file (default: standard output)")
    gen.set_defaults(func=run_generate)
    play = sub.add_parser(
        "play",
        help="play tunes out as MIDI as they are read or composed, or write them to a file",
        description="Play the tunes of an ABC or data_v2 file, or a tune composed as it is "
        "sampled (--generate), on a MIDI output: notes on time at a tempo, repeats played, "
        "every note released when it ends, on Ctrl-C and on errors. With -o and no port it "
        "writes the .mid (or .abc) file and plays nothing. Without a port it makes a virtual "
        "output named 'listener' for a synthesiser to connect to.",
        epilog="examples:\n  listener tunes play tune.abc --port fluidsynth --program 73\n"
        "  listener tunes play --generate --meter 6/8 --seed 4 --virtual folk\n"
        "  listener tunes play --generate --mode dor -o tune.mid\n"
        "MIDI on Linux goes through ALSA (needs /dev/snd/seq) or JACK (needs jackd running); "
        "`listener devices` lists the outputs. Tempo counts quarter notes per minute; by "
        "default it follows the meter (jigs 165, reels 180, waltzes 135, ...).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    play.add_argument("file", type=Path, nargs="?", help="ABC or data_v2 file")
    play.add_argument("--generate", action="store_true", help="compose a tune and play it")
    options.add_generation(play)
    play.add_argument("--max-tokens", type=int, default=1000, help="cap (default 1000)")
    options.add_midi_output(play)
    play.add_argument("--tempo", type=float, help="quarter notes per minute (default: by meter)")
    play.add_argument("-o", "--output", type=Path, help="write a .mid or .abc file too")
    play.set_defaults(func=run_play)
    check = sub.add_parser(
        "check",
        help="how well tunes hold together: endings, bars, repeats, parts",
        description="Check tunes (an ABC or data_v2 file, or N tunes generated with seeds "
        "1..N): the share that end with </s>, the share of full bars as long as the meter "
        "says (pickups and a part's short last bar aside), the share with balanced repeats, "
        "and the parts per tune.",
    )
    check.add_argument("file", type=Path, nargs="?", help="ABC or data_v2 file")
    check.add_argument("--generate", type=int, metavar="N", help="check N generated tunes")
    check.add_argument("--model", type=Path, help="ONNX step model for --generate")
    check.add_argument("--temperature", type=float, default=1.0)
    check.add_argument(
        "--unconstrained", action="store_true", help="--generate without the grammar's mask"
    )
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.set_defaults(func=run_check)


def _composer(args: argparse.Namespace):
    from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM

    return FolkLSTM(args.model or DEFAULT_FOLK_MODEL)


def _sampled(model, args: argparse.Namespace, seed: int) -> Iterator[str]:
    return model.generate(
        args.prime,
        meter=args.meter,
        mode=args.mode,
        temperature=args.temperature,
        seed=seed,
        max_tokens=args.max_tokens,
        constrained=not args.unconstrained,
    )


def run_corpus(args: argparse.Namespace) -> int:
    """Run ``listener tunes corpus``."""
    from listener.tunes.corpus import build_corpus, collection_files, write_data_v2

    files = collection_files()
    tunes, counts = build_corpus(files)
    write_data_v2(tunes, args.output)
    tokens = sum(len(t.tokens()) + 2 for t in tunes)  # with <s> and </s>
    print(
        f"wrote {len(tunes)} tunes ({tokens} tokens with <s> and </s>) from {len(files)} "
        f"files to {args.output}"
    )
    for reason, n in counts.most_common():
        if reason != "kept":
            print(f"  dropped {n:5d}  {reason}")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    """Run ``listener tunes generate``."""
    model = _composer(args)
    first = _sampled(model, args, args.seed)  # settings checked before any file is opened
    out = open(args.output, "w") if args.output else sys.stdout  # noqa: SIM115
    try:
        for i in range(args.count):
            seed = args.seed + i
            tokens = list(first if i == 0 else _sampled(model, args, seed))
            tune, ended = Tune.from_sampled(tokens)
            tune, dropped = tune.cleaned()
            title = f"listener seed {seed}" + ("" if ended else " (stopped at the token cap)")
            abc = tune.abc(i + 1, title)
            if dropped:
                abc += f"% {dropped} malformed tokens left out\n"
            out.write(abc + "\n")
            out.flush()
    finally:
        if args.output:
            out.close()
            print(f"wrote {args.count} tunes to {args.output}", file=sys.stderr)
    return 0


def run_check(args: argparse.Namespace) -> int:
    """Run ``listener tunes check``."""
    from listener.tunes.check import check_tunes, mask_cost
    from listener.tunes.corpus import read_tunes

    if (args.file is None) == (args.generate is None):
        raise ConfigError("give a FILE to check or --generate N, one of the two")
    tunes: list[Tune] = []
    ended: list[bool] = []
    cost = None
    if args.generate:
        model = _composer(args)
        record: list = []
        for seed in range(1, args.generate + 1):
            sampled = model.generate(
                temperature=args.temperature,
                seed=seed,
                constrained=not args.unconstrained,
                record=record,
            )
            tune, done = Tune.from_sampled(list(sampled))
            tunes.append(tune)
            ended.append(done)
        how = "unconstrained" if args.unconstrained else "constrained"
        source = f"{args.generate} tunes generated, {how} (seeds 1..{args.generate})"
        cost = mask_cost(record)
    else:
        read = read_tunes(args.file)
        tunes, ended = [t for t, _ in read], [done for _, done in read]
        source = str(args.file)
    result = check_tunes(tunes, ended)
    if cost is not None:
        result["sampling"] = cost
    if args.json:
        print(json.dumps({"source": source, **result}))
        return 0
    print(f"{source}: {result['tunes']} tunes")
    print(f"  ended with </s>            {100 * result['ended_share']:5.1f}%")
    print(f"  full bars fitting meter    {100 * result['bars_ok_share']:5.1f}%")
    print(f"  balanced repeats           {100 * result['repeats_ok_share']:5.1f}%")
    print(f"  well formed (the grammar)  {100 * result['well_formed_share']:5.1f}%")
    print(f"  parts per tune             {result['parts_mean']:5.2f}")
    if cost is not None:
        print(
            f"  sampled tokens: mean log p {cost['logp_mean']:.3f} as the model gave it, "
            f"{cost['logp_masked_mean']:.3f} within the grammar; the grammar took more than "
            f"10% of the mass away at {100 * cost['steps_over_10pct_share']:.1f}% of "
            f"{cost['steps']} steps; {100 * cost['refused_share']:.2f}% of the tokens sampled "
            "were ill formed"
        )
    return 0


def run_play(args: argparse.Namespace) -> int:
    """Run ``listener tunes play``; returns the exit status (130 after Ctrl-C)."""
    from listener.midi import MidiScheduler, MidiSink, default_tempo
    from listener.midi.player import play_tokens
    from listener.tunes.corpus import read_tunes
    from listener.tunes.interpret import TuneInterpreter, read_through
    from listener.tunes.notes import NoteEvent

    if (args.file is None) == (not args.generate):
        raise ConfigError("give a FILE to play or --generate, one of the two")
    options.check_midi_output(args)
    if args.output and args.output.suffix.lower() not in (".mid", ".midi", ".abc"):
        raise ConfigError(f"{args.output}: write .mid or .abc (the suffix says which)")
    live = bool(args.port or args.virtual or not args.output)
    tokens: Iterator[str] = iter(())
    tunes: list[Tune] = []
    if args.generate:
        tokens = _sampled(_composer(args), args, args.seed)
        first = next(tokens)  # the meter: it sets the tempo before the first note
        meter = first if first.startswith("M:") else "M:4/4"
        tokens = itertools.chain([first], tokens)
    else:
        tunes = [t for t, _ in read_tunes(args.file)]
        if not tunes:
            raise ConfigError(f"{args.file}: no tune to play")
        meter = tunes[0].meter
    tempo = args.tempo or default_tempo(meter)

    sink = scheduler = None
    if live:
        virtual = args.virtual or (None if args.port else "listener")
        sink = MidiSink.open(
            args.port, virtual=virtual, api=args.api, channel=args.channel - 1, program=args.program
        )
        where = f"MIDI output {args.port!r}" if args.port else f"virtual MIDI port {virtual!r}"
        print(f"playing on {where} at {tempo:g} quarter notes per minute", file=sys.stderr)
        scheduler = MidiScheduler(sink, tempo=tempo, lead=0.2).start()
    sampled: list[str] = []
    notes, meters = [], []  # meters: (beat, meter token), for the .mid file
    try:
        if args.generate:
            source = _recording(tokens, sampled)
            if scheduler is not None:
                player = play_tokens(source, scheduler, TuneInterpreter())
            else:
                player = TuneInterpreter()
                for token in source:
                    notes += player.process(token)
                notes += player.flush()
            tune, _ = Tune.from_sampled(sampled)
            tunes = [tune.cleaned()[0]]
            if scheduler is not None and args.output:  # the notes played, for the file
                notes, reader = read_through(tune.tokens())
                meters = reader.meters
            else:
                meters = player.meters
            if player.warnings:
                print(f"interpreter: {dict(player.warnings)}", file=sys.stderr)
        else:
            start = Fraction(0)
            for tune in tunes:
                part, reader = read_through(tune.tokens())
                part = [NoteEvent(n.pitch + tune.offset, n.onset + start, n.duration) for n in part]
                meters += [(at + start, meter) for at, meter in reader.meters]
                notes += part
                start = max([n.end for n in part], default=start) + GAP_BEATS
            if scheduler is not None:
                scheduler.feed(notes)
                scheduler.close()
        if scheduler is not None:
            scheduler.wait()
            if scheduler.error is not None:
                raise scheduler.error
    except KeyboardInterrupt:
        if scheduler is not None:
            scheduler.stop()
        print("stopped: every note released", file=sys.stderr)
        return 130
    finally:
        if sink is not None:
            sink.close()
    if scheduler is not None:
        late = scheduler.lateness_ms()
        print(
            f"played {late['count'] // 2} notes; sent late against the clock by "
            f"p50 {late['p50']:.3f} ms, p99 {late['p99']:.3f} ms, max {late['max']:.3f} ms",
            file=sys.stderr,
        )
    if args.output:
        _write(args.output, tunes, notes, meters, tempo, args)
    if args.generate:
        print(tunes[0].abc(1, f"listener seed {args.seed}"), end="")
    return 0


def _recording(tokens: Iterator[str], into: list[str]) -> Iterator[str]:
    for token in tokens:
        into.append(token)
        yield token


def _write(path: Path, tunes: list[Tune], notes, meters, tempo: float, args) -> None:
    from listener.midi import write_midi

    if path.suffix.lower() == ".abc":
        try:
            path.write_text("\n".join(t.abc(i + 1) for i, t in enumerate(tunes)))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot write ({exc.strerror})") from exc
    else:
        write_midi(
            notes,
            path,
            tempo=tempo,
            meter=meters,
            program=args.program,
            channel=args.channel - 1,
        )
    print(f"wrote {path}", file=sys.stderr)
