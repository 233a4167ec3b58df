"""``listener bench lstm``: the composer's sampling step, and a whole tune, against its anchors.

The step is timed on the shipped model (or ``--model``) as the composer calls it: one token
in, logits and state out, one onnxruntime thread, fed the tokens of a real sampled tune so the
state is a musical one. In the same run, where installed, two anchors take the same step:

* the same graph in fp32 on onnxruntime (what the 4-bit weights buy; needs ``onnx``),
* a PyTorch eager ``nn.LSTM`` step on one thread (what a training framework costs at run time;
  needs ``torch``). Its weights are random: the time of fp32 arithmetic does not depend on them.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from listener.tunes.lstm import DEFAULT_FOLK_MODEL, FolkLSTM
from listener.tunes.vocab import INDEX, START, VOCAB

from .timing import table

#: Tokens in the "whole tune" measurement (a folk-rnn tune averages about 170).
TUNE_TOKENS = 250


def _step_times_ms(step, tokens: list[int], state, passes: int) -> np.ndarray:
    # Per-step times in ms, one row per pass over the tokens; the state runs on across passes.
    clock = time.perf_counter_ns
    out = np.empty((passes, len(tokens)))
    h, c = state
    for p in range(passes):
        for i, token in enumerate(tokens):
            t0 = clock()
            _, h, c = step(token, h, c)
            out[p, i] = clock() - t0
    return out / 1e6


def _median_pass(times: np.ndarray, q: float) -> float:
    # percentile q of each pass, the median over passes (bursts of other tenants hit one pass)
    return float(np.median(np.percentile(times, q, axis=1)))


def _tune_ms(lstm: FolkLSTM, count: int, constrained: bool = True) -> float:
    # Time to sample `count` tokens through generate(), sampling (and the grammar's mask)
    # included, tunes started from consecutive seeds whenever one ends.
    t0 = time.perf_counter()
    made, seed = 0, 0
    while made < count:
        sampled = lstm.generate(seed=seed, max_tokens=count - made, constrained=constrained)
        for _ in sampled:
            made += 1
            if made == count:
                break
        seed += 1
    return (time.perf_counter() - t0) * 1e3


def _fp32_twin(lstm: FolkLSTM):
    # The same step graph in fp32, with random weights of the shipped model's shapes.
    from listener.tunes.export import step_graph

    rng = np.random.default_rng(0)
    vocab, hidden, weights = len(VOCAB), lstm.hidden, {}
    for k in range(lstm.layers):
        inputs = vocab if k == 0 else hidden
        weights[f"lstm.weight_ih_l{k}"] = rng.normal(0, 0.1, (4 * hidden, inputs))
        weights[f"lstm.weight_hh_l{k}"] = rng.normal(0, 0.1, (4 * hidden, hidden))
        weights[f"lstm.bias_ih_l{k}"] = np.zeros(4 * hidden)
        weights[f"lstm.bias_hh_l{k}"] = np.zeros(4 * hidden)
    weights["dense.weight"] = rng.normal(0, 0.1, (vocab, hidden))
    weights["dense.bias"] = np.zeros(vocab)
    return step_graph({k: v.astype(np.float32) for k, v in weights.items()})


def _torch_step(layers: int, hidden: int):
    # A PyTorch eager step on one thread: one-hot input, nn.LSTM, nn.Linear (the training net).
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(len(VOCAB), hidden, layers)
    dense = torch.nn.Linear(hidden, len(VOCAB))
    one_hot = torch.eye(len(VOCAB))

    def step(token, h, c):
        with torch.inference_mode():
            out, (h, c) = lstm(one_hot[token].view(1, 1, -1), (h, c))
            return dense(out[0, 0]), h, c

    zeros = torch.zeros(layers, 1, hidden)
    return step, (zeros, zeros.clone())


def _pinned(cpu: int | None):
    # Pin the calling thread to one CPU (Linux); return a function that undoes it.
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return lambda: None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    return lambda: os.sched_setaffinity(0, before)


def bench_lstm(
    model: str | Path = DEFAULT_FOLK_MODEL,
    steps: int = 500,
    passes: int = 5,
    repeat: int = 7,
    cpu: int | None = None,
) -> dict[str, float | int | str | None]:
    """Measure one sampling step and a 250-token tune, with the anchors in the same run.

    The composer's weights (2.6 MB at 3 x 512) fit one core's level-2 cache, so a step may cost
    less on a thread that stays on one core; with ``cpu`` the step is also timed pinned there.

    Parameters
    ----------
    model : path
        The ONNX step model (default: the shipped one).
    steps : int
        Steps per timed pass (the tokens of sampled tunes, in order).
    passes : int
        Timed passes; each percentile is taken per pass and the median pass reported.
    repeat : int
        Runs of the whole-tune measurement; the median is reported.
    cpu : int or None
        Also time the step pinned to this CPU (-1: the last one this process may use).

    Returns
    -------
    dict
        ``step_ms_p50``, ``step_ms_p99``, ``step_ms_max``, ``step_ms_p50_pinned`` (with
        ``cpu``),
        ``tune_ms`` (250 tokens sampled through ``generate``, constrained),
        ``tune_ms_best``, ``tune_ms_unconstrained``, ``cpu``,
        ``fp32_step_ms_p50`` (None without onnx), ``torch_step_ms_p50`` and
        ``speedup_vs_torch`` (None without torch), ``model``, ``layers``, ``hidden``,
        ``steps``, ``passes``.
    """
    lstm = FolkLSTM(model)
    tokens: list[int] = []
    seed = 0
    while len(tokens) < steps:
        tokens += [INDEX[START]] + [INDEX[t] for t in lstm.generate(seed=seed)]
        seed += 1
    tokens = tokens[:steps]
    times = _step_times_ms(lstm.step, tokens, lstm.initial_state(), passes)
    tunes = [_tune_ms(lstm, TUNE_TOKENS) for _ in range(repeat)]
    plain = [_tune_ms(lstm, TUNE_TOKENS, constrained=False) for _ in range(repeat)]
    pinned = None
    if cpu is not None:
        if cpu == -1 and hasattr(os, "sched_getaffinity"):
            cpu = max(os.sched_getaffinity(0))
        unpin = _pinned(cpu)
        try:
            pinned = _median_pass(
                _step_times_ms(lstm.step, tokens, lstm.initial_state(), passes), 50
            )
        finally:
            unpin()
    result: dict[str, float | int | str | None] = {
        "model": str(model),
        "layers": lstm.layers,
        "hidden": lstm.hidden,
        "steps": steps,
        "passes": passes,
        "step_ms_p50": _median_pass(times, 50),
        "step_ms_p99": _median_pass(times, 99),
        "step_ms_max": float(times.max()),
        "step_ms_p50_pinned": pinned,
        "cpu": cpu,
        "tune_tokens": TUNE_TOKENS,
        "tune_ms": float(np.median(tunes)),
        "tune_ms_best": float(np.min(tunes)),
        "tune_ms_unconstrained": float(np.median(plain)),
        "fp32_step_ms_p50": None,
        "torch_step_ms_p50": None,
        "speedup_vs_torch": None,
    }
    try:
        import onnx
    except ImportError:
        pass
    else:
        import tempfile

        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "fp32.onnx"
            onnx.save(_fp32_twin(lstm), path)
            twin = FolkLSTM(path)
            fp32 = _step_times_ms(twin.step, tokens, twin.initial_state(), passes)
        result["fp32_step_ms_p50"] = _median_pass(fp32, 50)
    try:
        import torch
    except ImportError:
        return result
    threads = torch.get_num_threads()
    try:
        step, state = _torch_step(lstm.layers, lstm.hidden)
        few = tokens[: max(50, steps // 5)]  # an eager step is slow; fewer of them suffice
        step(few[0], *state)  # first call allocates
        anchor = _step_times_ms(step, few, state, passes)
    finally:
        torch.set_num_threads(threads)
    result["torch_step_ms_p50"] = _median_pass(anchor, 50)
    result["speedup_vs_torch"] = result["torch_step_ms_p50"] / result["step_ms_p50"]
    return result


def format_lstm_report(result: dict) -> str:
    """Format :func:`bench_lstm` results as a table beside the targets."""
    lines = [
        f"composer step on {result['model']} ({result['layers']} x {result['hidden']}): "
        f"{result['steps']} steps x {result['passes']} passes, one thread (percentiles "
        "of the median pass; anchors measured in the same run)",
    ]
    rows = [
        ("step p50, ms", "step_ms_p50", "<= 0.25"),
        ("step p99, ms", "step_ms_p99", ""),
        ("step max, ms", "step_ms_max", ""),
        (f"step p50 pinned to CPU {result['cpu']}, ms", "step_ms_p50_pinned", ""),
        (f"{result['tune_tokens']}-token tune, ms (median)", "tune_ms", "<= 70"),
        (f"{result['tune_tokens']}-token tune, ms (best)", "tune_ms_best", ""),
        ("  the same without the grammar's mask", "tune_ms_unconstrained", ""),
        ("anchor: same graph fp32, step p50 ms", "fp32_step_ms_p50", ""),
        ("anchor: PyTorch eager step p50 ms", "torch_step_ms_p50", ""),
        ("speedup vs PyTorch eager", "speedup_vs_torch", ">= 10x"),
    ]
    return "\n".join(lines + table(result, rows, width=40, digits=3))
