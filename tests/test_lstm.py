"""The composer's runtime (onnxruntime) and the training script that makes its model."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest

from listener.errors import ConfigError, ModelError
from listener.tunes.lstm import FolkLSTM
from listener.tunes.vocab import END, INDEX, START, VOCAB
from tests.harness import ROOT, need_module

TINY = ROOT / "tests" / "data" / "folk-lstm-tiny.onnx"  # 1 x 32, made by the training script


@pytest.fixture(scope="module")
def lstm() -> FolkLSTM:
    return FolkLSTM(TINY)


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def kl(p_logits: np.ndarray, q_logits: np.ndarray) -> np.ndarray:
    """KL(p || q) in nats, per row of logits."""
    lp, lq = log_softmax(p_logits), log_softmax(q_logits)
    return (np.exp(lp) * (lp - lq)).sum(axis=-1)


def assert_matches_fixture(model: FolkLSTM, onnx_path) -> None:
    """Step the 4-bit model through its fixture's tokens: its next-token distributions must be
    torch's fp32 ones up to quantisation (a wrong graph is off by nats, not thousandths)."""
    with np.load(onnx_path.with_suffix(".fixture.npz"), allow_pickle=False) as fixture:
        tokens, expected = fixture["tokens"], fixture["logits"]
    h, c = model.initial_state()
    got = []
    for token in tokens:
        logits, h, c = model.step(int(token), h, c)
        got.append(logits)
    divergence = kl(expected, np.array(got))
    assert divergence.mean() < 0.01 and divergence.max() < 0.05, divergence


def reference_step(weights, token, h, c):
    """PyTorch's LSTM equations in numpy, one token (gates in order input, forget, cell, out)."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    x = np.eye(weights["lstm.weight_ih_l0"].shape[1])[token]
    h, c = h.copy(), c.copy()
    for k in range(h.shape[0]):
        z = (
            weights[f"lstm.weight_ih_l{k}"] @ x
            + weights[f"lstm.bias_ih_l{k}"]
            + weights[f"lstm.weight_hh_l{k}"] @ h[k, 0]
            + weights[f"lstm.bias_hh_l{k}"]
        )
        i, f, g, o = np.split(z, 4)
        c[k, 0] = sigmoid(f) * c[k, 0] + sigmoid(i) * np.tanh(g)
        h[k, 0] = x = sigmoid(o) * np.tanh(c[k, 0])
    return weights["dense.weight"] @ x + weights["dense.bias"], h, c


@pytest.fixture(scope="module")
def random_weights() -> dict[str, np.ndarray]:
    """Two layers of 48 with weights of a trained net's scale (no gate saturated)."""
    rng = np.random.default_rng(5)
    vocab, hidden, weights = len(VOCAB), 48, {}
    for k, inputs in enumerate((vocab, hidden)):
        weights[f"lstm.weight_ih_l{k}"] = rng.normal(0, 0.5, (4 * hidden, inputs))
        weights[f"lstm.weight_hh_l{k}"] = rng.normal(0, 0.2, (4 * hidden, hidden))
        weights[f"lstm.bias_ih_l{k}"] = rng.normal(0, 0.3, 4 * hidden)
        weights[f"lstm.bias_hh_l{k}"] = rng.normal(0, 0.3, 4 * hidden)
    weights["dense.weight"] = rng.normal(0, 0.5, (vocab, hidden))
    weights["dense.bias"] = rng.normal(0, 0.1, vocab)
    return {k: v.astype(np.float32) for k, v in weights.items()}


def run_graph(model, tmp_path, name, tokens):
    import onnx

    path = tmp_path / f"{name}.onnx"
    onnx.save(model, path)
    runtime = FolkLSTM(path)
    h, c = runtime.initial_state()
    out = []
    for token in tokens:
        logits, h, c = runtime.step(int(token), h, c)
        out.append((logits, h, c))
    return out


def test_exported_graph_is_the_lstm_equations(random_weights, tmp_path):
    need_module("onnx")
    from listener.tunes.export import step_graph

    tokens = np.random.default_rng(1).integers(0, len(VOCAB), 60)
    got = run_graph(step_graph(random_weights), tmp_path, "fp32", tokens)
    h = np.zeros((2, 1, 48), np.float32)
    c = h.copy()
    for token, (logits, h_out, c_out) in zip(tokens, got, strict=True):
        want, h, c = reference_step(random_weights, token, h, c)
        np.testing.assert_allclose(logits, want, atol=2e-5)
        np.testing.assert_allclose(h_out, h, atol=2e-6)
        np.testing.assert_allclose(c_out, c, atol=2e-5)


def test_quantised_graph_stays_close(random_weights, tmp_path):
    need_module("onnx")
    need_module("onnx_ir")
    from listener.tunes.export import quantize_step_graph, step_graph

    tokens = np.random.default_rng(2).integers(0, len(VOCAB), 60)
    fp32 = step_graph(random_weights)
    exact = np.array([r[0] for r in run_graph(fp32, tmp_path, "fp32", tokens)])
    four_bit = run_graph(quantize_step_graph(fp32, 16), tmp_path, "q", tokens)
    assert {n.op_type for n in quantize_step_graph(fp32, 16).graph.node} >= {"MatMulNBits"}
    divergence = kl(exact, np.array([r[0] for r in four_bit]))
    assert divergence.mean() < 0.01, divergence
    # and it is not the same graph by accident
    assert np.abs(exact - np.array([r[0] for r in four_bit])).max() > 1e-4


def test_a_batch_steps_as_one_token_stream_each(random_weights, tmp_path):
    # the exported graph takes a free batch: two streams at once give each stream's own steps
    need_module("onnx")
    from listener.tunes.export import step_graph

    runtime = FolkLSTM(_saved(step_graph(random_weights), tmp_path / "fp32.onnx"))
    assert runtime.batched
    tokens = np.random.default_rng(3).integers(0, len(VOCAB), (2, 20))
    h = np.zeros((2, 2, 48), np.float32)
    c = h.copy()
    for step in tokens.T:
        want = [
            reference_step(random_weights, int(t), h[:, i : i + 1], c[:, i : i + 1])
            for i, t in enumerate(step)
        ]
        logits, h, c = runtime._session.run(None, {"token": step, "h": h, "c": c})
        for i, (w_logits, w_h, w_c) in enumerate(want):
            np.testing.assert_allclose(logits.reshape(2, -1)[i], w_logits, atol=2e-5)
            np.testing.assert_allclose(h[:, i : i + 1], w_h, atol=2e-6)
            np.testing.assert_allclose(c[:, i : i + 1], w_c, atol=2e-5)


def _saved(model, path):
    import onnx

    onnx.save(model, path)
    return path


def _likelihood_by_steps(model: FolkLSTM, tokens: list[str]) -> float:
    h, c = model.initial_state()
    total, current = 0.0, START
    for token in tokens:
        logits, h, c = model.step(INDEX[current], h, c)
        total += log_softmax(logits)[INDEX[token]]
        current = token
    return total


def test_likelihood_is_the_sum_of_each_tokens_log_probability(lstm, tmp_path):
    tunes = [
        "M:6/8 K:Cmaj c d e | f g a | b c' d' |".split(),
        "M:4/4 K:Cmin G, C E G c > d =e f |".split(),
        "M:3/4 K:Cdor d 2 f 2 a 2 |".split(),
        "M:2/4 K:Cmix c /2 d /2 e /2 f /2 g a | _b 2 c' |".split(),
        "M:9/8 K:Cmaj C D E".split(),
    ]
    want = [_likelihood_by_steps(lstm, t) for t in tunes]
    # five lists: a batch of BATCH and one of the rest, on two threads
    assert lstm.batched
    np.testing.assert_allclose(lstm.likelihood(tunes), want, atol=1e-3)
    np.testing.assert_allclose(lstm.likelihood(tunes[:1]), want[:1], atol=1e-3)
    assert lstm.likelihood([]) == []
    # a model exported with its batch fixed at one is judged a list at a time, to the same
    # figures; free_batch frees it
    need_module("onnx")
    import onnx

    from listener.tunes.export import free_batch

    fixed = onnx.load(TINY)
    for value in [*fixed.graph.input, *fixed.graph.output]:
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_value = len(VOCAB) if value.name == "logits" else 1
    single = FolkLSTM(_saved(fixed, tmp_path / "single.onnx"))
    assert not single.batched
    np.testing.assert_allclose(single.likelihood(tunes), want, atol=1e-3)
    freed = FolkLSTM(_saved(free_batch(fixed), tmp_path / "freed.onnx"))
    assert freed.batched
    np.testing.assert_allclose(freed.likelihood(tunes), want, atol=1e-3)


def test_tiny_model_matches_torch(lstm):
    assert_matches_fixture(lstm, TINY)


def test_generation_is_reproducible_and_streams(lstm):
    tune = lstm.generate(meter="6/8", mode="dor", seed=7)
    assert isinstance(tune, types.GeneratorType)
    assert next(tune) == "M:6/8" and next(tune) == "K:Cdor"  # tokens come one at a time
    one = list(lstm.generate(meter="6/8", mode="dor", seed=7))
    assert one == list(lstm.generate(meter="M:6/8", mode="dor", seed=7))
    assert one != list(lstm.generate(meter="6/8", mode="dor", seed=8))
    assert all(t in VOCAB for t in one)
    assert one[-1] == END or len(one) == 2 + 1000


def test_prime_and_limits(lstm):
    prime = "M:4/4 K:Cmaj c d c"
    tune = list(lstm.generate(prime=prime, seed=1, max_tokens=20))
    assert tune[:5] == prime.split() and len(tune) <= 25
    assert list(lstm.generate(prime=prime.split(), seed=1, max_tokens=20)) == tune
    # nearly cold, sampling takes the most likely token at every step: of all of them, or
    # constrained, of those the grammar allows
    from listener.tunes.grammar import TuneGrammar
    from listener.tunes.lstm import CLOSING_TOKENS

    for constrained in (False, True):
        cold = list(
            lstm.generate(
                prime=prime, seed=1, temperature=1e-3, max_tokens=50, constrained=constrained
            )
        )
        grammar = TuneGrammar()
        h, c = lstm.initial_state()
        logits, h, c = lstm.step(INDEX[START], h, c)
        for i, token in enumerate(cold):
            if i >= 5:
                grammar.closing = i - 5 >= 50 - min(CLOSING_TOKENS, 25)  # as generate sets it
                allowed = grammar.allowed() if constrained else np.ones(len(VOCAB), bool)
                best = int(np.argmax(np.where(allowed, logits, -np.inf)))
                assert token == VOCAB[best], (constrained, i, token)
            grammar.advance(token)
            logits, h, c = lstm.step(INDEX[token], h, c)
        assert len(cold) > 5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prime": "M:4/4 K:Cmaj c d H"}, "prime: 'H' is not a folk-rnn v2 token"),
        ({"prime": "M:4/4 K:Cmaj c''"}, "did you mean c'"),
        ({"meter": "5/4"}, "meter '5/4' is not one of"),
        ({"mode": "lyd"}, "mode 'lyd' is not one of"),
        ({"temperature": 0}, "temperature must be positive"),
        ({"max_tokens": 0}, "max_tokens must be at least 1"),
    ],
)
def test_bad_settings_are_named_when_asked_for(lstm, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        lstm.generate(**kwargs)  # at the call, not at the first token


def test_missing_model(tmp_path):
    with pytest.raises(ModelError, match="no such model"):
        FolkLSTM(tmp_path / "none.onnx")


def test_runtime_never_imports_torch():
    code = (
        "import sys; from listener.tunes.lstm import FolkLSTM; "
        f"m = FolkLSTM({str(TINY)!r}); list(m.generate(seed=0, max_tokens=30)); "
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_training_script_trains_resumes_and_exports(tmp_path):
    need_module("torch")
    need_module("onnx")
    from listener.tunes.corpus import read_data_v2, write_data_v2

    corpus = tmp_path / "corpus.txt"
    examples = ROOT.parent / "shared" / "reference" / "folkrnn-examples"
    tunes = read_data_v2(examples / "folkrnn-v2-generated-64-tunes.txt")
    write_data_v2(tunes, corpus)
    out = tmp_path / "model" / "folk"
    script = [
        sys.executable,
        str(ROOT / "scripts" / "train_folk_lstm.py"),
        "--corpus",
        str(corpus),
        "--out",
        str(out),
        "--checkpoints",
        str(tmp_path / "ck"),
        "--layers",
        "2",
        "--hidden",
        "16",
        "--batch",
        "8",
        "--budget",
        "2",
    ]
    first = subprocess.run([*script, "--epochs", "1"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    again = subprocess.run(
        [*script, "--epochs", "2", "--resume"], capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    assert "resumed after epoch 1" in again.stdout
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["epochs"] == 2 and len(meta["history"]) == 2
    assert meta["history"][1]["train_loss"] < np.log(len(VOCAB))  # it learns something
    assert meta["onnx_parity_max_abs_logit_diff"] < 1e-4  # our fp32 graph against torch
    quantised = meta["quantization"]
    assert abs(quantised["valid_loss_increase"]) < 0.05
    assert quantised["valid_tokens"] > 100
    model = FolkLSTM(out.with_suffix(".onnx"))
    assert (model.layers, model.hidden) == (2, 16)
    assert list(model.generate(seed=0, max_tokens=10))


def test_generated_abc_is_read_by_abc2midi_and_abcm2ps(tmp_path):
    # The tiny model's tunes are nonsense musically; this checks the path from tokens to files
    # that abc2midi and abcm2ps read (the writer is held to real tunes in the next test).
    from listener.tunes.corpus import read_tunes
    from listener.tunes.interpret import interpret
    from tests.harness import need_program
    from tests.harness.abc2midi import abc2midi_notes

    abc2midi = need_program("abc2midi", "abcmidi")
    abcm2ps = need_program("abcm2ps", "abcm2ps")
    target = tmp_path / "tunes.abc"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "listener",
            "tunes",
            "generate",
            "--model",
            str(TINY),
            "--seed",
            "3",
            "--count",
            "3",
            "--meter",
            "6/8",
            "--mode",
            "dor",
            "--max-tokens",
            "120",
            "-o",
            str(target),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    text = target.read_text()
    assert text.count("X:") == 3 and text.count("M:6/8\nL:1/8\nK:Cdor\n") == 3
    # abc2midi writes one tune of a file (and exits 0 on errors): each tune on its own, its
    # notes as ours, no error reported
    for tune, _ in read_tunes(target):
        want, accepted = abc2midi_notes(tune.abc(), tmp_path, abc2midi)
        got = sorted((n.onset, n.pitch, n.duration) for n in interpret(tune.tokens()))
        assert accepted and want == got and got
    score = subprocess.run(
        [abcm2ps, str(target), "-O", str(tmp_path / "t.ps")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "error" not in (score.stdout + score.stderr).lower(), score.stderr
    assert "3 titles" in score.stdout + score.stderr  # every tune drawn


def test_abc_of_real_tunes_has_no_abc2midi_errors(tmp_path):
    from listener.tunes.corpus import read_data_v2
    from tests.harness import need_program

    abc2midi = need_program("abc2midi", "abcmidi")
    tunes = read_data_v2(
        ROOT.parent / "shared" / "reference" / "folkrnn-examples" / "data_v2-first-5-tunes.txt"
    )
    target = tmp_path / "real.abc"
    target.write_text("\n".join(t.abc(i + 1) for i, t in enumerate(tunes)))
    midi = subprocess.run(
        [abc2midi, str(target), "-o", str(tmp_path / "r.mid")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Error" not in midi.stdout + midi.stderr, midi.stdout  # its exit status is 0 anyway


def test_shipped_model_matches_its_fixture():
    from listener.tunes.lstm import DEFAULT_FOLK_MODEL

    model = FolkLSTM()
    assert (model.layers, model.hidden) == (3, 512)
    assert_matches_fixture(model, DEFAULT_FOLK_MODEL)
    meta = json.loads(DEFAULT_FOLK_MODEL.with_suffix(".json").read_text())
    assert meta["quantization"]["valid_loss_increase"] <= 0.01  # the bound
    tune = list(model.generate(meter="6/8", mode="maj", seed=1))
    assert tune[:2] == ["M:6/8", "K:Cmaj"] and len(tune) > 10
