"""The composer at run time: folk-rnn's LSTM as an ONNX step model on onnxruntime (no torch).

The model file takes one token and the recurrent state and gives the next token's logits and
the new state (inputs ``token`` int64 [1], ``h`` and ``c`` float32 [layers, 1, hidden]; outputs
``logits`` [137], ``h_out``, ``c_out``), so a tune is sampled one token at a time and each token
can be played as soon as it is drawn. The session runs on one thread with spinning off (a
real-time process must not have a pool of threads busy-waiting), and is warmed up at load,
since onnxruntime's first run is slow.

The shipped graph is built by :mod:`listener.tunes.export` (embedding lookup, 4-bit weights,
int8 arithmetic); its weights (2.6 MB at 3 x 512) fit one core's level-2 cache. Steps go
through plain ``InferenceSession.run`` (docs/design.md says why).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from listener.errors import ConfigError, ModelError
from listener.tunes.grammar import TuneGrammar
from listener.tunes.vocab import END, INDEX, METERS, MODES, START, VOCAB, check_tokens

#: Tokens before the cap at which a constrained tune is steered to its end (a bar, its part's
#: close and ``</s>`` take a few dozen).
CLOSING_TOKENS = 100
#: The shipped model (trained by scripts/train_folk_lstm.py).
DEFAULT_FOLK_MODEL = Path(__file__).resolve().parents[2] / "models" / "folk-lstm.onnx"
#: Token lists :meth:`FolkLSTM.likelihood` steps as one batch (a batch of three costs twice
#: one list's step, six four times: two threads of three are quicker).
BATCH = 3


class FolkLSTM:
    """folk-rnn v2 sampled step by step with onnxruntime.

    Parameters
    ----------
    path : path
        The ``.onnx`` step model; ``.vocab.json`` beside it must list the 137 tokens in order.
    threads : int
        Intra-op threads (default 1).
    """

    def __init__(self, path: str | Path = DEFAULT_FOLK_MODEL, threads: int = 1) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise ModelError("the composer needs onnxruntime: pip install onnxruntime") from exc
        path = Path(path)
        if not path.exists():
            raise ModelError(f"{path}: no such model; train one with scripts/train_folk_lstm.py")
        vocab_file = path.with_suffix(".vocab.json")
        if vocab_file.exists() and json.loads(vocab_file.read_text()) != list(VOCAB):
            raise ModelError(f"{vocab_file}: not the folk-rnn v2 vocabulary this code speaks")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own classes
            raise ModelError(f"{path}: not a loadable ONNX model ({exc})") from exc
        shapes = {i.name: i.shape for i in self._session.get_inputs()}
        if set(shapes) != {"token", "h", "c"}:
            raise ModelError(f"{path}: expected inputs token, h, c; found {sorted(shapes)}")
        self.layers, _, self.hidden = shapes["h"]
        #: Whether the model steps several token streams at once (exported with a free batch).
        self.batched = not isinstance(shapes["token"][0], int)
        self._pool: ThreadPoolExecutor | None = None
        self.path = path
        self._warm_up()

    def _warm_up(self) -> None:
        h, c = self.initial_state()
        for token in (START, "M:4/4", "K:Cmaj"):
            _, h, c = self.step(INDEX[token], h, c)

    def initial_state(self) -> tuple[np.ndarray, np.ndarray]:
        """Zero ``h`` and ``c``."""
        zeros = np.zeros((self.layers, 1, self.hidden), dtype=np.float32)
        return zeros, zeros.copy()

    def step(self, index: int, h: np.ndarray, c: np.ndarray):
        """Feed one token (its index); return the next token's logits and the new state."""
        logits, h, c = self._session.run(
            None, {"token": np.array([index], dtype=np.int64), "h": h, "c": c}
        )
        return logits, h, c

    def likelihood(self, tunes: Sequence[Sequence[str]]) -> list[float]:
        """Log-likelihood (nats) of each token list as the start of a tune, after ``<s>``.

        What the composer thinks of a reading of a phrase (meter, key, body): the reader
        weighs its candidate readings by it (``read_notes(likelihood=)``). Where the model
        takes a batch, the lists are stepped ``BATCH`` at a time, the batches on two threads
        (six lists of 45 tokens: 14 ms, against 45 ms one by one); else one after another.
        """
        lists = [[INDEX[START], *(INDEX[token] for token in tokens)] for tokens in tunes]
        size = BATCH if self.batched else 1
        groups = [lists[i : i + size] for i in range(0, len(lists), size)]
        if len(groups) < 2:
            return [x for group in groups for x in self._likelihood(group)]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(2, thread_name_prefix="likelihood")
        return [x for out in self._pool.map(self._likelihood, groups) for x in out]

    def _likelihood(self, group: list[Sequence[int]]) -> list[float]:
        # token lists stepped together, each from its first token: the log p of each later
        # one, summed while the list lasts
        size, longest = len(group), max(len(x) for x in group)
        h = np.zeros((self.layers, size, self.hidden), dtype=np.float32)
        c = h.copy()
        current = np.array([x[0] for x in group], dtype=np.int64)
        totals = np.zeros(size)
        for k in range(1, longest):
            logits, h, c = self._session.run(None, {"token": current, "h": h, "c": c})
            z = logits.reshape(size, -1).astype(np.float64)
            top = z.max(axis=1, keepdims=True)
            log_p = z - top - np.log(np.exp(z - top).sum(axis=1, keepdims=True))
            for row, tokens in enumerate(group):
                if k < len(tokens):
                    totals[row] += log_p[row, tokens[k]]
                    current[row] = tokens[k]
        return totals.tolist()

    def log_loss(self, sequences: Iterable[Sequence[int]]) -> tuple[float, int]:
        """Mean cross-entropy in nats per predicted token, with the true token fed back.

        Parameters
        ----------
        sequences : iterable of sequences of int
            Token indices, each a whole tune from ``<s>`` to ``</s>``.

        Returns
        -------
        loss : float
            Mean of ``-log p(next token)`` over every token after the first of each sequence.
        count : int
            Tokens predicted.
        """
        total, count = 0.0, 0
        for sequence in sequences:
            total -= self._likelihood([[int(t) for t in sequence]])[0]
            count += len(sequence) - 1
        return total / max(count, 1), count

    def generate(
        self,
        prime: str | Sequence[str] = (),
        *,
        meter: str | None = None,
        mode: str | None = None,
        temperature: float = 1.0,
        seed: int | None = None,
        max_tokens: int = 1000,
        constrained: bool = True,
        record: list | None = None,
    ) -> Iterator[str]:
        """Yield a tune's tokens one at a time: meter, key, prime, then each one as sampled.

        The settings are checked when this is called (:func:`start_tokens`), not when the
        first token is asked for, so a bad one fails before anything starts. Constrained (the
        default), each step samples only among the tokens :class:`TuneGrammar
        <listener.tunes.grammar.TuneGrammar>` allows, renormalised: every tune is well formed.

        Parameters
        ----------
        prime : str or sequence of str
            Tokens to start from (``"M:6/8 K:Cmaj c d c"`` or a list).
        meter : str, optional
            ``6/8`` or ``M:6/8``, when the prime gives none.
        mode : str, optional
            ``maj``, ``min``, ``dor`` or ``mix``, when the prime gives no key.
        temperature : float
            Divides the logits before the softmax (below 1: safer, above 1: wilder).
        seed : int, optional
            The same seed, prime and settings always give the same tune.
        max_tokens : int
            Tokens sampled at most; a tune normally ends earlier with ``</s>``, which is yielded.
        constrained : bool
            Sample only what keeps the tune well formed (False: the model as it is, for study).
        record : list, optional
            Receives, for each sampled token, ``(log p, log p masked, mass removed)``: the log
            probability the model gave it, the one it had once the ill-formed tokens were
            taken out and the rest renormalised, and the probability those tokens had
            (unconstrained, what the mask would have taken; -inf for a token it refuses).
        """
        tokens = start_tokens(prime, meter=meter, mode=mode, temperature=temperature)
        if max_tokens < 1:
            raise ConfigError(f"max_tokens must be at least 1, got {max_tokens}")
        grammar = None
        if constrained:
            grammar = TuneGrammar()
            wrong = grammar.accepts(tokens)
            if wrong is not None:
                raise ConfigError(
                    f"prime: {tokens[wrong]!r} (token {wrong + 1}) would make the tune ill "
                    "formed (a bar longer than the meter, a header inside the body, a repeat "
                    "that does not close...); fix the prime, or pass --unconstrained"
                )
        return self._sample(tokens, temperature, seed, max_tokens, grammar, record)

    def _sample(
        self,
        tokens: list[str],
        temperature: float,
        seed: int | None,
        max_tokens: int,
        grammar: TuneGrammar | None,
        record: list | None,
    ) -> Iterator[str]:
        rng = np.random.default_rng(seed)
        last = len(VOCAB) - 1
        h, c = self.initial_state()
        logits, h, c = self.step(INDEX[START], h, c)
        for token in tokens:
            yield token
            logits, h, c = self.step(INDEX[token], h, c)
        closing = max_tokens - min(CLOSING_TOKENS, max_tokens // 2)
        # unconstrained, a grammar still watches when asked what the mask would have cost
        watcher = TuneGrammar() if grammar is None and record is not None else None
        if watcher is not None:
            for token in tokens:
                watcher.advance(token)
        for step in range(max_tokens):
            z = logits.astype(np.float64) / temperature
            z_kept = z
            if grammar is not None:  # what would make the tune ill formed gets no chance
                grammar.closing = step >= closing
                z_kept = np.where(grammar.allowed(), z, -np.inf)
            # inverse-CDF draw: half the cost of Generator.choice with p=
            cdf = np.cumsum(np.exp(z_kept - z_kept.max()))
            index = min(int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right")), last)
            if record is not None:
                record.append(step_cost(z, index, grammar or watcher))
            for follower in (grammar, watcher):
                if follower is not None:
                    follower.advance(VOCAB[index])
            yield VOCAB[index]
            if VOCAB[index] == END:
                return
            logits, h, c = self.step(index, h, c)


def step_cost(z: np.ndarray, index: int, grammar: TuneGrammar) -> tuple[float, float, float]:
    """Say what the grammar's mask does to one step: ``(log p, log p masked, mass removed)``.

    ``z`` are the step's logits, ``index`` the token taken; the log probabilities are the
    token's among all tokens and among those the grammar allows (-inf for one it refuses).
    """
    peak = z.max()
    log_whole = peak + np.log(np.exp(z - peak).sum())
    allowed = grammar.allowed()
    if not allowed.any():  # a watcher lost after ill-formed tokens: nothing is well formed
        return float(z[index] - log_whole), -np.inf, 1.0
    z_kept = z[allowed]
    top = z_kept.max()
    log_kept = top + np.log(np.exp(z_kept - top).sum())
    masked = z[index] - log_kept if allowed[index] else -np.inf
    return float(z[index] - log_whole), float(masked), float(-np.expm1(log_kept - log_whole))


def start_tokens(
    prime: str | Sequence[str] = (),
    *,
    meter: str | None = None,
    mode: str | None = None,
    temperature: float = 1.0,
) -> list[str]:
    """Check the composer's settings and return the tokens a tune starts with.

    The meter and mode come first when the prime gives none; every token is checked against
    the vocabulary, an unknown one named with the closest valid ones.

    Raises
    ------
    ConfigError
        A setting out of range, or a token not in the vocabulary.
    """
    if not temperature > 0:
        raise ConfigError(f"temperature must be positive, got {temperature}")
    words = prime.split() if isinstance(prime, str) else list(prime)
    head = []
    if meter is not None and not (words and words[0].startswith("M:")):
        token = meter if meter.startswith("M:") else f"M:{meter}"
        if token not in METERS:
            raise ConfigError(f"meter {meter!r} is not one of {', '.join(METERS)}")
        head.append(token)
    if mode is not None and not any(w.startswith("K:") for w in words[:2]):
        if mode not in MODES:
            raise ConfigError(f"mode {mode!r} is not one of {', '.join(MODES)}")
        head.append(f"K:C{mode}")
    return check_tokens(head + words, "prime")
