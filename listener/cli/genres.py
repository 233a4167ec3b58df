"""``listener genres train | evaluate | classify``: models from folder-per-label collections."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from listener.cli import options
from listener.errors import DataError

#: Exit status of a run that finished with clips left out (undecodable, empty, too short, NaN).
BAD_CLIPS_STATUS = 3

_EPILOG_GENRES = """\
collections: a folder with one subfolder of audio files per label (GTZAN's layout; a genres/
  level is looked through). Features (the 30-dim GTZAN vector at each 1 s texture window) are
  extracted once, in parallel, and cached by file content (~/.cache/listener or $LISTENER_CACHE).
classifiers: gaussian (default; one full-covariance Gaussian per class, its covariance drawn
  75% toward the one pooled over classes), gaussian:POOLING:SHRINKAGE to set both, gmm:K or
  gmm:K:diag (K Gaussians per class), knn:K (K nearest windows). --tune chooses a gaussian's or
  a knn's settings by cross-validation inside each training fold (nested: honest figures).
features: full (all 30) or timbral (the 19 texture dimensions, the paper's real-time set).
examples:
  listener genres evaluate ../shared/data/gtzan-mini --table
  listener genres evaluate DIR --tune --rolling 10
  listener genres evaluate DIR --by-artist --folds 3 --plot confusion.png
  listener genres evaluate DIR --split-dir DIR/splits/fault-filtered --json
  listener genres train DIR -o models/my-genres --tune
  listener genres classify song.wav --realtime
"""


def register(commands) -> None:
    """Add ``genres`` and its actions to the command line."""
    genres = commands.add_parser(
        "genres",
        help="genre decisions: train, evaluate, classify",
        description="Decide the genre of music from its GTZAN features (Tzanetakis & Cook 2002).",
        epilog=_EPILOG_GENRES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    genres.set_defaults(func=None, help_parser=genres)
    sub = genres.add_subparsers(dest="genres_command", metavar="ACTION")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("dir", type=Path, help="collection: one subfolder of audio per label")
        p.add_argument(
            "--classifier",
            default="gaussian",
            help="gaussian[:POOLING:SHRINKAGE] | gmm:K[:diag] | knn:K (default gaussian, "
            "which is gaussian:0.75:0)",
        )
        p.add_argument(
            "--features",
            choices=("full", "timbral"),
            default="full",
            help="feature set (default full, 30 dims)",
        )
        p.add_argument(
            "--tune",
            action="store_true",
            help="choose the classifier's settings (gaussian: pooling and shrinkage; knn: K) by "
            "cross-validation inside each training fold, so that no test clip takes part",
        )
        p.add_argument("--cache", type=Path, help="feature cache folder")
        p.add_argument("--workers", type=int, help="processes here (default: cores)")
        p.add_argument(
            "--executor",
            choices=("local", "dask"),
            default="local",
            help="where extraction and the folds run: local processes (default) or a Dask "
            "cluster (pip install 'listener[dask]'; --scheduler, or a local cluster of --workers). "
            "Clips that cannot be used are left out and listed; the exit status is then 3",
        )
        p.add_argument(
            "--scheduler",
            help="the Dask scheduler, tcp://HOST:8786 (default $LISTENER_DASK_SCHEDULER); "
            "the workers need the collection and --cache at the same paths",
        )

    train = sub.add_parser(
        "train",
        help="fit a model on a whole collection",
        description="Fit a classifier on every clip of a collection and "
        "write MODEL.npz with MODEL.json (provenance, 10-fold figures).",
    )
    common(train)
    train.add_argument("-o", "--output", type=Path, required=True, help="model file (.npz)")
    train.set_defaults(func=train_command)

    ev = sub.add_parser(
        "evaluate",
        help="cross-validate: accuracy, confusion, precision, recall",
        description="Cross-validate on a collection and report accuracy mean "
        "+- std over folds, the confusion table, precision and recall, per 1 s "
        "window (the real-time decision) and per clip.",
        epilog=_EPILOG_GENRES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    common(ev)
    ev.add_argument("--folds", type=int, help="k folds (default 10; 3 with --by-artist)")
    ev.add_argument("--seed", type=int, default=0, help="shuffling seed (default 0)")
    ev.add_argument(
        "--split-dir", type=Path, help="folder of *train*.txt / *test*.txt file lists (one split)"
    )
    ev.add_argument(
        "--holdout",
        type=float,
        metavar="SHARE",
        help="one split holding out SHARE (e.g. 0.2) of each label's clips",
    )
    ev.add_argument(
        "--by-artist", action="store_true", help="folds grouped by artist: no artist on both sides"
    )
    ev.add_argument(
        "--artists",
        type=Path,
        help="artist index, lines 'file ::: artist ::: title' (default: found in DIR)",
    )
    ev.add_argument(
        "--table",
        action="store_true",
        help="the paper's rows (RT GS, GS, GMM(2-5), KNN(1,3,5)) beside its figures",
    )
    ev.add_argument("--json", action="store_true", help="one JSON object on stdout")
    ev.add_argument("--plot", type=Path, help="confusion tables as a PNG")
    ev.add_argument(
        "--rolling",
        type=float,
        metavar="SECONDS",
        help="also measure how often the rolling decision after SECONDS of a clip agrees with "
        "the whole clip's decision",
    )
    ev.set_defaults(func=evaluate_command)

    cl = sub.add_parser(
        "classify",
        help="rolling genre decisions on a file, as JSON lines",
        description="Stream a file through the features and the online "
        "decision, printing each decision as a JSON line as it is made.",
    )
    cl.add_argument("file", type=Path, help="audio file")
    cl.add_argument("--model", type=Path, help="model .npz (default: the shipped one)")
    cl.add_argument("--realtime", action="store_true", help="play the file at its own pace")
    cl.add_argument(
        "--window",
        type=float,
        default=10.0,
        help="seconds of evidence behind a decision (default 10)",
    )
    cl.add_argument("--decay", type=float, help="fading memory in seconds instead of a window")
    options.add_gate(cl)
    cl.set_defaults(func=classify_command)


def _executor(args: argparse.Namespace):
    # where extraction and the folds run, open for the whole command (--executor, --scheduler)
    from listener.genres.executors import open_executor

    return open_executor(args.executor, scheduler=args.scheduler, workers=args.workers)


def _collection(folder: Path, args: argparse.Namespace, pool):
    from listener.genres.dataset import FeatureCache, extract_collection, find_clips

    clips = find_clips(folder)
    cache = FeatureCache(args.cache) if args.cache else FeatureCache()
    print(
        f"{len(clips)} clips, {len({c.label for c in clips})} labels in {folder}", file=sys.stderr
    )
    errors: list = []
    vectors = extract_collection(clips, cache, executor=pool, errors=errors)
    if errors:
        print(f"{len(errors)} clip(s) left out, which could not be used:", file=sys.stderr)
        for clip, reason in errors:
            print(f"  {clip.path}: {reason}", file=sys.stderr)
        if len(errors) == len(clips):
            raise DataError(f"{folder}: no clip could be used")
    args.bad_clips = len(errors)
    left_out = {id(clip) for clip, _ in errors}
    return [c for c in clips if id(c) not in left_out], vectors


def _finished(args: argparse.Namespace) -> int:
    # the exit status: 0, or BAD_CLIPS_STATUS when clips were left out (the run finished)
    return BAD_CLIPS_STATUS if getattr(args, "bad_clips", 0) else 0


def _artists_for(clips: list, folder: Path, index: Path | None) -> list[str]:
    from listener.genres.dataset import load_artists

    if index is None:
        found = sorted(folder.glob("**/*GTZANindex*.txt"))
        if not found:
            raise DataError(
                f"{folder}: no artist index found; give --artists FILE "
                "(lines 'file ::: artist ::: title')"
            )
        index = found[0]
    artists = load_artists(index)
    missing = [c.name for c in clips if c.name not in artists]
    if missing:
        raise DataError(f"{index}: no artist for {len(missing)} clips, e.g. {missing[0]}")
    return [artists[c.name] for c in clips]


def _validate(prepared, labels, folds, args, pool, groups=None):
    """Cross-validate as the arguments ask.

    With the classifier as given or, with ``--tune``, with its settings chosen inside each
    training fold. Returns the report, the spec of each fold and what
    :func:`rolling_agreement` takes as ``make``.
    """
    from listener.genres.evaluate import cross_validate
    from listener.genres.tuning import classifier_factory, nested_cross_validate, tuning_grid

    if not args.tune:
        make = classifier_factory(args.classifier)
        report = cross_validate(prepared, labels, folds, make, executor=pool)
        return report, [args.classifier] * len(folds), make

    def progress(fold: int, folds: int, spec: str) -> None:
        print(f"  fold {fold}/{folds}: chose {spec}", file=sys.stderr)

    grid = tuning_grid(args.classifier)
    print(
        f"choosing among {len(grid)} settings by cross-validation inside each training fold",
        file=sys.stderr,
    )
    report, chosen = nested_cross_validate(
        prepared, labels, folds, grid, progress=progress, groups=groups, executor=pool
    )
    return report, chosen, [classifier_factory(spec) for spec in chosen]


def train_command(args) -> int:
    """Run ``listener genres train``."""
    with _executor(args) as pool:
        return _train(args, pool)


def _train(args, pool) -> int:
    from listener.genres.evaluate import (
        cross_validate,
        grouped_folds,
        rolling_agreement,
        stratified_folds,
    )
    from listener.genres.features import prepare
    from listener.genres.model import GenreModel
    from listener.genres.report import CAVEAT_GTZAN_MINI
    from listener.genres.tuning import classifier_factory, tune, tuning_grid

    folder = Path(args.dir)
    clips, vectors = _collection(folder, args, pool)
    labels = [c.label for c in clips]
    prepared = [prepare(v, args.features) for v in vectors]
    folds = stratified_folds(labels, 10, 0)
    report, chosen, makes = _validate(prepared, labels, folds, args, pool)
    summary = report.to_dict()
    protocol = "10-fold stratified, seed 0, on the training collection"
    if args.tune:
        protocol += "; settings chosen by 5-fold cross-validation inside each training fold"
    figures = {
        "protocol": protocol,
        "clip_accuracy_mean": summary["clip"]["accuracy_mean"],
        "clip_accuracy_std": summary["clip"]["accuracy_std"],
        "window_accuracy_mean": summary["window"]["accuracy_mean"],
        "window_accuracy_std": summary["window"]["accuracy_std"],
        "rolling_agreement_10s": rolling_agreement(
            [c.path for c in clips], vectors, labels, folds, makes, args.features, 10.0
        ),
    }
    spec, tuning = args.classifier, None
    if args.tune:
        backend = "dask" if args.executor == "dask" else None  # the candidates on the cluster
        spec, grid = tune(prepared, labels, tuning_grid(args.classifier), folds=10, backend=backend)
        tuning = {
            "chosen": spec,
            "how": "best 10-fold (seed 0) accuracy per 1 s window on the whole collection",
            "chosen_per_fold": chosen,
            "candidates": grid,
        }
        print(f"settings for the model: {spec}", file=sys.stderr)
    make = classifier_factory(spec)
    try:
        artists = _artists_for(clips, folder, None)
    except DataError:
        artists = None
    if artists is not None:
        grouped = cross_validate(
            prepared, labels, grouped_folds(labels, artists, 3, 0), make, executor=pool
        )
        figures["artist_grouped"] = {
            "protocol": f"3-fold grouped by artist ({len(set(artists))} artists), seed 0",
            "clip_accuracy_mean": grouped.summary("clip")["accuracy_mean"],
            "window_accuracy_mean": grouped.summary("window")["accuracy_mean"],
        }
    X = np.vstack(prepared)
    Y = np.concatenate([[c.label] * v.shape[0] for c, v in zip(clips, vectors, strict=True)])
    model = GenreModel(
        make().fit(X, Y),
        args.features,
        {
            "classifier": spec,
            "data": {
                "folder": str(folder),
                "clips": len(clips),
                "windows": int(X.shape[0]),
                "per_label": {g: labels.count(g) for g in sorted(set(labels))},
            },
            "settings": {
                "window_seconds": 1.0,
                "features": args.features,
                "params": make().get_params(),
            },
            **({"tuning": tuning} if tuning else {}),
            "figures": figures,
            "caveat": CAVEAT_GTZAN_MINI if "gtzan" in str(folder).lower() else "",
        },
    )
    model.calibrate(X)
    npz, info = model.save(args.output)
    print(
        f"wrote {npz} and {info}: {len(model.labels)} labels, 10-fold accuracy per clip "
        f"{figures['clip_accuracy_mean']:.3f} +- {figures['clip_accuracy_std']:.3f}, "
        f"per 1 s window {figures['window_accuracy_mean']:.3f}, rolling decision after 10 s "
        f"agrees with the clip's on {100 * figures['rolling_agreement_10s']:.0f}%",
        file=sys.stderr,
    )
    return _finished(args)


def evaluate_command(args) -> int:
    """Run ``listener genres evaluate``."""
    with _executor(args) as pool:
        return _evaluate(args, pool)


def _evaluate(args, pool) -> int:
    from listener.genres.dataset import FeatureCache
    from listener.genres.evaluate import (
        format_confusion,
        grouped_folds,
        holdout,
        rolling_agreement,
        split_lists,
        stratified_folds,
    )
    from listener.genres.features import prepare
    from listener.genres.report import CAVEAT_GTZAN_MINI, duplicates, plot_confusion

    folder = Path(args.dir)
    clips, vectors = _collection(folder, args, pool)
    labels = [c.label for c in clips]
    if args.split_dir:
        folds, protocol = (
            split_lists([c.name for c in clips], args.split_dir),
            (f"split lists in {args.split_dir}"),
        )
    elif args.holdout:
        folds, protocol = (
            holdout(labels, args.holdout, args.seed),
            (f"holdout of {100 * args.holdout:.0f}% per label, seed {args.seed}"),
        )
    elif args.by_artist:
        artists = _artists_for(clips, folder, args.artists)
        k = args.folds or 3
        folds, protocol = (
            grouped_folds(labels, artists, k, args.seed),
            (f"{k}-fold grouped by artist ({len(set(artists))} artists), seed {args.seed}"),
        )
    else:
        k = args.folds or 10
        folds, protocol = (
            stratified_folds(labels, k, args.seed),
            (f"{k}-fold stratified, seed {args.seed}"),
        )
    if args.split_dir:
        sizes = ", ".join(f"{train.size}/{test.size}" for train, test in folds)
        protocol += f" ({len(folds)} split{'s' * (len(folds) > 1)}, clips trained/tested {sizes})"
    unseen = sum(
        1 for train, test in folds for i in test if labels[i] not in {labels[j] for j in train}
    )
    if unseen:
        print(
            f"warning: {unseen} test clips have a label with no training clip in their split; "
            "they cannot be decided right",
            file=sys.stderr,
        )
    cache = FeatureCache(args.cache) if args.cache else FeatureCache()
    dups = duplicates(clips, vectors, cache)
    crossing = [
        (a, b, why) for a, b, why in dups if any((a in test) != (b in test) for _, test in folds)
    ]
    for a, b, why in crossing:
        print(
            f"warning: {clips[a].name} and {clips[b].name} are {why} and fall on both sides "
            "of a partition",
            file=sys.stderr,
        )
    groups = artists if args.by_artist else None  # --tune: inner folds grouped as the outer
    if args.table:
        return _table(vectors, labels, folds, protocol, args, folder, pool, groups)
    prepared = [prepare(v, args.features) for v in vectors]
    report, chosen, makes = _validate(prepared, labels, folds, args, pool, groups)
    agreement = None
    if args.rolling:
        agreement = rolling_agreement(
            [c.path for c in clips], vectors, labels, folds, makes, args.features, args.rolling
        )
    if args.plot:
        plot_confusion(
            report, Path(args.plot), f"{args.classifier} on {args.features} features, {protocol}"
        )
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        extra = {}
        if agreement is not None:
            extra = {"rolling_agreement": {"seconds": args.rolling, "share": agreement}}
        print(
            json.dumps(
                {
                    "protocol": protocol,
                    "classifier": args.classifier,
                    "features": args.features,
                    "duplicates_across": len(crossing),
                    **extra,
                    **report.to_dict(),
                    **({"chosen_per_fold": chosen} if args.tune else {}),
                }
            )
        )
        return _finished(args)
    print(f"{args.classifier} on {args.features} features, {protocol}:")
    if args.tune:
        print("settings chosen inside each training fold: " + ", ".join(chosen))
    for which in ("clip", "window"):
        s = report.summary(which)
        print(f"\nper {which}: accuracy {s['accuracy_mean']:.3f} +- {s['accuracy_std']:.3f}")
        print(format_confusion(np.array(s["confusion"]), report.labels))
        print("precision " + "  ".join(f"{g[:5]} {p:.2f}" for g, p in s["precision"].items()))
        print("recall    " + "  ".join(f"{g[:5]} {r:.2f}" for g, r in s["recall"].items()))
    if agreement is not None:
        print(
            f"\nrolling decision after {args.rolling:g} s agrees with the clip decision on "
            f"{100 * agreement:.0f}% of clips"
        )
    if "gtzan" in str(folder).lower():
        print(f"\nnote: {CAVEAT_GTZAN_MINI}")
    return _finished(args)


def _table(vectors, labels, folds, protocol, args, folder, pool, groups=None) -> int:
    from listener.genres.report import CAVEAT_GTZAN_MINI, format_paper_rows, paper_rows

    def progress(name: str) -> None:
        print(f"  {name:<8} done", file=sys.stderr)

    rows = paper_rows(
        vectors, labels, folds, tune=args.tune, groups=groups, progress=progress, executor=pool
    )
    if args.json:
        print(json.dumps({"protocol": protocol, "rows": rows}))
        return 0
    print(format_paper_rows(rows, protocol))
    if "gtzan" in str(folder).lower():
        print(f"\nnote: {CAVEAT_GTZAN_MINI}")
    return 0


def classify_command(args) -> int:
    """Run ``listener genres classify``: rolling decisions on a file, as JSON lines."""
    from listener.analysis import Analysis
    from listener.audio import FileSource
    from listener.genres.model import DEFAULT_MODEL, GenreModel

    model = GenreModel.load(args.model or DEFAULT_MODEL)
    analysis = Analysis(model, window=args.window, decay=args.decay, gate_db=args.gate)
    source = FileSource(args.file, realtime=args.realtime)
    trained_on = model.provenance.get("data", {}).get("folder", "unknown data")
    print(
        json.dumps(
            {
                "type": "model",
                "labels": model.labels,
                "features": model.feature_set,
                "trained_on": trained_on,
            }
        ),
        flush=True,
    )
    last = None
    for block in source.blocks():
        for event in analysis.process(block).events:
            print(json.dumps({"type": "decision", **event}), flush=True)
            last = event
    if last is None:
        raise DataError(f"{args.file}: shorter than 1 s, too short for a decision")
    print(
        json.dumps(
            {
                "type": "final",
                "t": round(source.duration, 3),
                "genre": analysis.online.decision,
                "confidence": round(analysis.online.confidence, 4),
                "familiar": round(analysis.online.familiar, 3),
            }
        ),
        flush=True,
    )
    return 0
