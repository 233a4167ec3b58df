"""Genre classifiers, model files, rolling decisions, partitions and the genres commands."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from listener.errors import ConfigError, DataError, ModelError
from listener.features.vector import GenreVectors
from listener.genres.evaluate import (
    cross_validate,
    grouped_folds,
    split_lists,
    stratified_folds,
)
from listener.genres.gaussian import GaussianClassifier
from listener.genres.gmm import GMMClassifier
from listener.genres.knn import KNNClassifier
from listener.genres.model import GenreModel
from listener.genres.online import OnlineGenre
from tests.harness import need_module


def blobs(rng, n=300, d=6, labels="abc", spread=3.0):
    centers = rng.normal(0, spread, (len(labels), d))
    y = rng.choice(list(labels), n)
    scale = np.geomspace(1e-4, 1e4, d)  # units as different as the GTZAN features'
    X = (centers[[labels.index(c) for c in y]] + rng.normal(0, 1, (n, d))) * scale
    return X, y


def test_gaussian_matches_scipy(rng):
    from scipy.stats import multivariate_normal

    X, y = blobs(rng)
    g = GaussianClassifier(pooling=0.0, shrinkage=0.0).fit(X, y)
    s = g.scale_  # scipy cannot factor the raw covariance (1e-8 .. 1e8) either: compare scaled
    for c, label in enumerate(g.classes_):
        part = X[y == label] / s
        cov = np.cov(part.T) + 1e-6 * np.eye(X.shape[1])  # with the classifier's ridge
        ref = multivariate_normal(part.mean(axis=0), cov).logpdf(X[:20] / s) - np.log(s).sum()
        np.testing.assert_allclose(g.log_likelihood(X[:20])[:, c], ref, rtol=1e-8)
    assert (g.predict(X) == y).mean() > 0.95


def test_gaussian_partial_fit_equals_fit(rng):
    X, y = blobs(rng)
    whole = GaussianClassifier().fit(X, y)
    parts = GaussianClassifier()
    for chunk in np.array_split(np.arange(len(y)), 5):
        parts.partial_fit(X[chunk], y[chunk])
    np.testing.assert_allclose(parts.log_likelihood(X), whole.log_likelihood(X), rtol=1e-9)


def test_partial_fit_teaches_a_new_class(rng):
    X, y = blobs(rng, labels="abcd")
    seen = y != "d"
    for make in (GaussianClassifier, lambda: GMMClassifier(2), lambda: KNNClassifier(3)):
        model = make().fit(X[seen], y[seen])
        assert "d" not in model.classes_
        model.partial_fit(X[~seen][:40], y[~seen][:40])
        assert list(model.classes_) == ["a", "b", "c", "d"]
        assert (model.predict(X[~seen][40:]) == "d").mean() > 0.9


def test_gmm_against_sklearn(rng):
    mixture = need_module("sklearn.mixture")
    X, y = blobs(rng, n=600)
    g = GMMClassifier(2, seed=0).fit(X, y)
    part = X[y == "a"]
    z = (part - g.center_) / g.scale_
    ref = mixture.GaussianMixture(2, reg_covar=1e-4, random_state=0).fit(z)
    ours = g.log_likelihood(part)[:, list(g.classes_).index("a")]
    np.testing.assert_allclose(ours, ref.score_samples(z) - np.log(g.scale_).sum(), rtol=1e-5)
    g.partial_fit(X[:50], y[:50])  # one incremental EM step, still a proper mixture
    assert np.allclose(g.weights_.sum(axis=1), 1.0)


def test_knn_votes(rng):
    neighbors = need_module("sklearn.neighbors")
    X, y = blobs(rng)
    ours = KNNClassifier(5).fit(X[:200], y[:200])
    z = (X - ours.center_) / ours.scale_
    ref = neighbors.KNeighborsClassifier(5).fit(z[:200], y[:200])
    agree = (ours.predict(X[200:]) == ref.predict(z[200:])).mean()
    assert agree >= 0.97  # ties may break differently
    assert np.isfinite(ours.log_likelihood(X[200:])).all()


@pytest.mark.parametrize(
    "make", [GaussianClassifier, lambda: GMMClassifier(3, "diag"), lambda: KNNClassifier(1)]
)
def test_model_file_round_trip(tmp_path, rng, make):
    X, y = blobs(rng, d=30)
    model = GenreModel(make().fit(X, y), "full", {"data": "blobs"})
    npz, info = model.save(tmp_path / "m")
    with np.load(npz, allow_pickle=False) as data:  # no pickles anywhere
        assert "kind" in data.files
    again = GenreModel.load(npz)
    np.testing.assert_allclose(
        again.classifier.log_likelihood(X[:10]), model.classifier.log_likelihood(X[:10]), rtol=1e-10
    )
    meta = json.loads(info.read_text())
    assert meta["data"] == "blobs" and meta["feature_set"] == "full" and "date" in meta


def test_model_errors(tmp_path, rng):
    with pytest.raises(ModelError, match="no such model"):
        GenreModel.load(tmp_path / "nothing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a readable model"):
        GenreModel.load(tmp_path / "bad.npz")
    X, y = blobs(rng, d=30)
    g = GaussianClassifier().fit(X, y)
    with pytest.raises(ModelError, match="trained on 30 features"):
        g.predict(X[:, :19])
    with pytest.raises(ConfigError, match="NaN"):
        g.predict(np.full((1, 30), np.nan))


def test_online_decisions_follow_the_music_without_flicker(rng):
    X, y = blobs(rng, d=30, labels="ab", n=2000)
    model = GenreModel(GaussianClassifier().fit(X, y), "full")
    model.log_likelihood = model.classifier.log_likelihood  # vectors here are already prepared
    a, b = X[y == "a"], X[y == "b"]
    stream = np.vstack([a[rng.integers(0, len(a), 600)], b[rng.integers(0, len(b), 600)]])
    online = OnlineGenre(model, window=5.0)
    events = online.process(GenreVectors(42, stream))
    genres = [e["genre"] for e in events]
    changes = sum(1 for p, q in zip(genres, genres[1:], strict=False) if p != q)
    assert genres[0] == "a" and genres[-1] == "b" and changes == 1
    switch = next(e["t"] for e in events if e["genre"] == "b")
    assert (642 + 1) * 512 / 22050 < switch < (642 + 1) * 512 / 22050 + 5.0
    assert all(0 <= e["confidence"] <= 1 for e in events)
    assert abs(sum(events[-1]["posterior"].values()) - 1) < 1e-3


def test_online_in_pieces_equals_at_once(rng):
    X, y = blobs(rng, d=30, labels="abc", n=900)
    model = GenreModel(GaussianClassifier().fit(X, y), "full")
    model.log_likelihood = model.classifier.log_likelihood
    whole = OnlineGenre(model, window=2.0).process(GenreVectors(42, X))
    pieces = OnlineGenre(model, window=2.0)
    got = []
    for start in range(0, 900, 7):
        got += pieces.process(GenreVectors(42 + start, X[start : start + 7]))
    assert got == whole


def test_decision_holds_through_silence(gtzan, held_out_model):
    from listener.audio import load_audio
    from listener.features.vector import GenreFeatures

    x = load_audio(gtzan / "genres" / "metal" / "metal.00002.wav")  # not trained on
    hiss = np.random.default_rng(0).standard_normal(SECONDS_QUIET * 22050) * 10 ** (-70 / 20)
    parts = [x[: 12 * 22050], np.zeros(SECONDS_QUIET * 22050), hiss, x[12 * 22050 :]]
    signal = np.concatenate(parts).astype(np.float32)
    model = held_out_model[0]
    gated, open_ = OnlineGenre(model), OnlineGenre(model, gate_db=None)
    events = {"gated": [], "open": []}
    for online, got in ((gated, events["gated"]), (open_, events["open"])):
        features = GenreFeatures()
        for i in range(0, signal.size, 2048):
            got += online.process(features.process(signal[i : i + 2048]))
    quiet_from, quiet_to = 12.0, 12.0 + 2 * SECONDS_QUIET
    during = [e for e in events["gated"] if quiet_from < e["t"] <= quiet_to]
    assert [e["quiet"] for e in during] == [True]  # one event says the music stopped
    assert during[0]["genre"] == "metal" and during[0]["t"] < quiet_from + 0.1
    after = [e for e in events["gated"] if e["t"] > quiet_to]
    assert after[0]["quiet"] is False and all(e["genre"] == "metal" for e in after)
    # without the gate, silence and hiss are decided as music, at once and with confidence
    ungated = [e for e in events["open"] if quiet_from < e["t"] <= quiet_to]
    assert any(e["genre"] != "metal" and e["confidence"] > 0.9 for e in ungated)


SECONDS_QUIET = 15


def test_stratified_folds_partition_evenly():
    labels = [g for g in "abcde" for _ in range(10)]
    folds = stratified_folds(labels, 10, seed=0)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests) == list(range(50))
    for train, test in folds:
        assert set(train).isdisjoint(test) and len(test) == 5
        assert sorted(labels[i] for i in test) == list("abcde")
    assert stratified_folds(labels, 10, 0)[0][1].tolist() == folds[0][1].tolist()
    with pytest.raises(ConfigError, match="fewer folds"):
        stratified_folds(labels, 11)


def test_grouped_folds_keep_artists_apart():
    labels = [g for g in "ab" for _ in range(12)]
    artists = [f"{g}{i % 4}" for i, g in enumerate(labels)]
    for train, test in grouped_folds(labels, artists, 3):
        assert {artists[i] for i in train}.isdisjoint({artists[i] for i in test})


def test_split_lists(tmp_path):
    (tmp_path / "train_filtered.txt").write_text("blues/blues.00001.wav\nrock/rock.00002.wav\n")
    (tmp_path / "test_filtered.txt").write_text("blues/blues.00003.wav\nrock/rock.00077.wav\n")
    names = ["blues.00001.wav", "blues.00003.wav", "rock.00002.wav"]
    [(train, test)] = split_lists(names, tmp_path)
    assert train.tolist() == [0, 2] and test.tolist() == [1]
    with pytest.raises(DataError, match="needs"):
        split_lists(names, tmp_path / "nowhere")


def test_artist_filtered_folds_read_as_three_splits(gtzan):
    from listener.genres.dataset import find_clips

    names = [c.name for c in find_clips(gtzan)]
    folds = split_lists(names, gtzan / "splits" / "artist-filtered-3fold")
    assert 1 <= len(folds) <= 3  # a fold whose test list holds none of the collection is left
    for train, test in folds:
        assert set(train).isdisjoint(test) and len(test) > 0


def test_cross_validate_reports(rng):
    X, y = blobs(rng, n=400, d=30, labels="abcd")
    vectors, labels = [], []
    for label in "abcd":  # clips of 10 windows, each of one label
        rows = X[y == label]
        for i in range(0, rows.shape[0] - 9, 10):
            vectors.append(rows[i : i + 10])
            labels.append(label)
    report = cross_validate(vectors, labels, stratified_folds(labels, 2, 0), GaussianClassifier)
    out = report.to_dict()
    assert out["labels"] == sorted(set(labels)) and len(out["folds"]) == 2
    assert out["clip"]["accuracy_mean"] == 1.0  # blobs this far apart: every clip right
    assert out["window"]["accuracy_mean"] > 0.95
    for which in ("clip", "window"):
        conf = np.array(out[which]["confusion"])
        assert conf.sum() == (len(labels) if which == "clip" else 10 * len(labels))
        assert np.trace(conf) / conf.sum() == pytest.approx(out[which]["accuracy_mean"], 0.02)
        assert set(out[which]["precision"]) == set(labels)


def covariance_blobs(rng, clips=12, per_clip=20, d=5):
    # two labels with the same mean, told apart only by their covariances: pooling them into
    # one (pooling 1) leaves nothing to decide by, each class its own (pooling 0) decides well
    vectors, labels = [], []
    for label, spread in (("a", 0.3), ("b", 3.0)):
        for _ in range(clips):
            vectors.append(rng.normal(0, 1, (per_clip, d)) * spread)
            labels.append(label)
    return vectors, labels


def test_tune_chooses_the_settings_that_decide_best(rng):
    from listener.genres.tuning import tune, tuning_grid

    vectors, labels = covariance_blobs(rng)
    spec, scores = tune(vectors, labels, tuning_grid("gaussian"))
    assert spec.startswith("gaussian:0:") and len(scores) == 15
    worst = min(scores, key=lambda s: s["window"])
    assert worst["spec"].startswith("gaussian:1:") and worst["window"] < 0.7
    assert max(s["window"] for s in scores) > 0.95


def test_tune_keeps_artists_apart_when_told(rng):
    from listener.genres.tuning import tune, tuning_grid

    vectors, labels = covariance_blobs(rng)
    artists = [f"{label}{i % 4}" for i, label in enumerate(labels)]  # 4 artists a label
    spec, _ = tune(vectors, labels, tuning_grid("gaussian"), groups=artists)
    assert spec.startswith("gaussian:0:")
    with pytest.raises(ConfigError, match="artists"):  # one artist: no grouped folds
        tune(vectors, labels, tuning_grid("gaussian"), groups=["one"] * len(labels))


def test_nested_cross_validation_chooses_inside_training_folds(rng):
    from listener.genres.tuning import nested_cross_validate, tune, tuning_grid

    vectors, labels = covariance_blobs(rng)
    folds = stratified_folds(labels, 3, 0)
    report, chosen = nested_cross_validate(vectors, labels, folds, tuning_grid("gaussian"))
    assert len(chosen) == 3 and np.mean(report.window_accuracy) > 0.95
    for (train, _), spec in zip(folds, chosen, strict=True):
        inner, _ = tune(
            [vectors[i] for i in train], [labels[i] for i in train], tuning_grid("gaussian")
        )
        assert spec == inner  # chosen from the training clips alone


def test_classifier_specs():
    from listener.genres.tuning import classifier_factory, tuning_grid

    g = classifier_factory("gaussian:0.25:0.01")()
    assert (g.pooling, g.shrinkage) == (0.25, 0.01)
    assert (classifier_factory("gaussian")().pooling, GaussianClassifier().shrinkage) == (0.75, 0)
    assert classifier_factory("gmm:3:diag")().covariance == "diag"
    assert tuning_grid("knn:3") == ["knn:1", "knn:3", "knn:5", "knn:7", "knn:9"]
    for bad in ("gaussian:2:0", "gaussian:0.5", "gmm:x", "gmm:2:round", "svm"):
        with pytest.raises(ConfigError):
            classifier_factory(bad)
    with pytest.raises(ConfigError, match="--tune"):
        tuning_grid("gmm:3")


def test_prepare_logs_the_skewed_columns(rng):
    from listener.features.vector import GENRE_COLUMNS
    from listener.genres.features import columns, prepare

    v = rng.uniform(2.0, 5.0, (50, 30))  # above every floor (1 Hz for centroid and rolloff)
    v[:, GENRE_COLUMNS.index("low_energy")] = rng.integers(1, 42, 50) / 43
    logged = [
        j
        for j, name in enumerate(GENRE_COLUMNS)
        if name.startswith("var_") or name in ("mean_flux", "mean_centroid", "mean_rolloff")
    ] + [GENRE_COLUMNS.index("mean_zcr")]
    plain = [j for j, name in enumerate(GENRE_COLUMNS) if j not in logged and name != "low_energy"]
    full = prepare(v)
    # a skewed column is logged: scaling it shifts it by the log of the scale
    scaled = v.copy()
    scaled[:, logged] *= 3.0
    np.testing.assert_allclose(prepare(scaled)[:, logged] - full[:, logged], np.log(3.0))
    np.testing.assert_array_equal(full[:, plain], v[:, plain])  # the others pass as they are
    # low energy, a share of 43 frames, as a logit: symmetric about a half, finite at 0 and 1
    j = GENRE_COLUMNS.index("low_energy")
    shares = np.tile(v[:1], (3, 1))
    shares[:, j] = [0.0, 0.5, 1.0]
    ends = prepare(shares)[:, j]
    assert ends[1] == pytest.approx(0.0, abs=1e-12) and ends[0] == pytest.approx(-ends[2])
    assert np.all(np.diff(prepare(v[np.argsort(v[:, j])])[:, j]) >= 0)
    # silence (every column 0) stays finite, and the input is left as it was
    silent = prepare(np.zeros((1, 30)))
    assert np.isfinite(silent).all() and np.isfinite(full).all()
    np.testing.assert_array_equal(prepare(v, "timbral"), full[:, :19])
    assert columns("timbral")[-1] == "low_energy"
    before = v.copy()
    prepare(v)
    np.testing.assert_array_equal(v, before)


def test_model_prepared_otherwise_is_refused(tmp_path, rng):
    X, y = blobs(rng, d=30)
    npz, _ = GenreModel(GaussianClassifier().fit(X, y), "full").save(tmp_path / "m.npz")
    with np.load(npz) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["preparation"] = np.array("log-v1")
    np.savez(npz, **arrays)
    with pytest.raises(ModelError, match="train it again"):
        GenreModel.load(npz)


def run(*args):
    return subprocess.run(
        [sys.executable, "-m", "listener", *args], capture_output=True, text=True, timeout=600
    )


def test_collection_errors(tmp_path):
    from listener.genres.dataset import find_clips

    with pytest.raises(DataError, match="no such folder"):
        find_clips(tmp_path / "none")
    (tmp_path / "blues").mkdir()
    with pytest.raises(DataError, match="no audio files"):
        find_clips(tmp_path)


def test_evaluate_json_on_gtzan_mini(gtzan, tmp_path):
    cache = str(tmp_path / "c")
    plot = str(tmp_path / "c.png")
    out = run(
        "genres",
        "evaluate",
        str(gtzan),
        "--json",
        "--cache",
        cache,
        "--plot",
        plot,
        "--rolling",
        "10",
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    keys = {"accuracy_mean", "accuracy_std", "confusion", "precision", "recall"}
    assert set(result["clip"]) >= keys and set(result["window"]) >= keys
    assert len(result["folds"]) == 10 and len(result["labels"]) == 10
    assert result["clip"]["accuracy_mean"] >= 0.78  # measured 0.83 (one artist per genre)
    assert result["rolling_agreement"]["share"] >= 0.8  # measured 0.89
    assert (tmp_path / "c.png").stat().st_size > 10_000
    again = run("genres", "evaluate", str(gtzan), "--json", "--cache", cache)
    del result["rolling_agreement"]
    assert json.loads(again.stdout) == result  # from the cache, the same figures


def test_evaluate_tune_on_gtzan_mini(gtzan):
    out = run("genres", "evaluate", str(gtzan), "--json", "--tune", "--folds", "3")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert len(result["chosen_per_fold"]) == 3
    assert all(spec.startswith("gaussian:") for spec in result["chosen_per_fold"])
    assert result["clip"]["accuracy_mean"] >= 0.7  # measured 0.80
    assert "fold 3/3: chose gaussian:" in out.stderr


def test_classify_decides_a_clip_the_model_never_heard(gtzan, held_out_model):
    clip = str(gtzan / "genres" / "metal" / "metal.00002.wav")
    out = run("genres", "classify", clip, "--model", str(held_out_model[1]))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[0]["type"] == "model" and lines[-1]["type"] == "final"
    decisions = [line for line in lines if line["type"] == "decision"]
    assert decisions and all(0 < d["t"] <= 30.1 for d in decisions)
    assert lines[-1]["genre"] == "metal"
    assert np.all(np.diff([d["t"] for d in decisions]) > 0)


@pytest.mark.parametrize("case", ["silence", "clipping", "one second", "ten minutes"])
def test_no_nan_anywhere(case, rng):
    from listener.audio.synth import demo_signal
    from listener.features.vector import genre_vectors

    sr = 22050
    signal = {
        "silence": lambda: np.zeros(sr * 5, dtype=np.float32),
        "clipping": lambda: np.clip(demo_signal(5.0) * 40, -1, 1),
        "one second": lambda: demo_signal(1.0),
        "ten minutes": lambda: np.tile(demo_signal(30.0), 20),
    }[case]()
    got = genre_vectors(signal)
    assert got.vectors.shape[0] == signal.size // 512 - 42
    assert np.isfinite(got.vectors).all()
    model = GenreModel.load()
    online = OnlineGenre(model, gate_db=None)  # every window decided, silence too
    events = online.process(got)
    assert events and online.decision in model.labels
    assert all(np.isfinite(list(e["posterior"].values())).all() for e in events)
    gated = OnlineGenre(model)
    assert (gated.process(got) == []) == (case == "silence")


def test_holdout_keeps_every_label_on_both_sides():
    from listener.genres.evaluate import holdout

    labels = [g for g in "abc" for _ in range(10)]
    [(train, test)] = holdout(labels, 0.2, seed=1)
    assert len(test) == 6 and set(train).isdisjoint(test)
    assert sorted({labels[i] for i in test}) == ["a", "b", "c"]
    with pytest.raises(ConfigError):
        holdout(labels, 1.5)


def test_duplicates_are_reported(tmp_path):
    import shutil

    import soundfile as sf

    from listener.audio.synth import demo_signal
    from listener.genres.dataset import FeatureCache, extract_collection, find_clips
    from listener.genres.report import duplicates

    for label, seeds in (("a", (1, 2, 3)), ("b", (4, 5, 6))):
        (tmp_path / label).mkdir()
        for s in seeds:
            sf.write(tmp_path / label / f"{label}{s}.wav", demo_signal(3.0, seed=s), 22050)
    shutil.copy(tmp_path / "a" / "a1.wav", tmp_path / "b" / "copy.wav")  # the same file twice
    quieter = demo_signal(3.0, seed=2) * 0.5  # the same audio, another level: near-identical
    sf.write(tmp_path / "b" / "quieter.wav", quieter, 22050, subtype="FLOAT")
    clips = find_clips(tmp_path)
    cache = FeatureCache(tmp_path / "cache")
    vectors = extract_collection(clips, cache, workers=1, progress=False)
    found = {(clips[a].name, clips[b].name, why) for a, b, why in duplicates(clips, vectors, cache)}
    assert ("a1.wav", "copy.wav", "identical") in found
    assert any({a, b} == {"a2.wav", "quieter.wav"} for a, b, _ in found)
    assert not any("a3" in a or "a3" in b for a, b, _ in found)


def test_familiarity_tells_known_music_from_the_unknown(gtzan, held_out_model):
    from listener.audio import load_audio
    from listener.audio.synth import demo_signal
    from listener.features.vector import genre_vectors

    model = held_out_model[0]
    assert model.familiar_floor is not None
    # a clip it was not trained on, by an artist it knows: familiar
    known = genre_vectors(load_audio(gtzan / "genres" / "classical" / "classical.00005.wav"))
    assert model.familiar(known.vectors).mean() > 0.9
    online = OnlineGenre(model)
    online.process(genre_vectors(demo_signal(12.0)))  # a synthesiser: nothing like GTZAN
    assert online.familiar < 0.2


def test_paper_rows_beside_the_papers_figures(rng):
    from listener.features.vector import GENRE_COLUMNS
    from listener.genres.report import PAPER_ROWS, format_paper_rows, paper_rows

    vectors, labels = [], []
    for k, label in enumerate("abc"):  # three labels far apart in every one of the 30 dims
        for _ in range(6):
            v = rng.uniform(1.0, 1.2, (20, 30)) * 10.0**k
            v[:, GENRE_COLUMNS.index("low_energy")] = rng.uniform(0.1, 0.2, 20) + 0.3 * k
            vectors.append(v)
            labels.append(label)
    rows = paper_rows(vectors, labels, stratified_folds(labels, 3, 0))
    assert [r["model"] for r in rows] == [row[0] for row in PAPER_ROWS]
    assert [(r["paper_mean"], r["paper_std"]) for r in rows] == [
        (row[4][0] / 100, row[4][1] / 100) for row in PAPER_ROWS
    ]
    assert all(r["accuracy_mean"] == 1.0 for r in rows)  # every one decides these right
    table = format_paper_rows(rows, "3 folds")
    assert "KNN(5)" in table and "100 +- 0" in table and "56 +- 3" in table


def test_classifiers_are_scikit_learn_estimators(rng):
    from sklearn.base import clone, is_classifier
    from sklearn.model_selection import cross_val_score

    X, y = blobs(rng, n=240)
    for estimator in (
        GaussianClassifier(pooling=0.5, shrinkage=0.01),
        GMMClassifier(k=2, covariance="diag"),
        KNNClassifier(k=5),
    ):
        twin = clone(estimator.fit(X, y))  # unfitted, with the same settings
        assert twin.get_params() == estimator.get_params() and not hasattr(twin, "classes_")
        assert is_classifier(twin)
        assert cross_val_score(twin, X, y, cv=3).mean() > 0.9
    # a bad setting is a ConfigError, which scikit-learn's tools see as the ValueError it is
    with pytest.raises(ValueError, match="fewer folds"):
        stratified_folds(["a"] * 5 + ["b"] * 5, 6)
