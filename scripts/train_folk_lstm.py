"""Train folk-rnn v2's LSTM on the corpus, export its ONNX step model, write its provenance.

    python scripts/train_folk_lstm.py --corpus corpus.txt --out models/folk-lstm
    python scripts/train_folk_lstm.py --corpus corpus.txt --out models/folk-lstm --resume

The network (Sturm et al. 2016, config5): one-hot input (137), three LSTM layers of 512, dropout
0.5 after each, dense 137. RMSprop (lr 0.003, rho 0.9), batches of 64 tunes of similar length,
each gradient element clipped at 5, 5% of the tunes held out for validation (seeded). Losses are
mean cross-entropy per token in nats; validation runs with dropout off. A checkpoint (npz of
weights and optimiser state, JSON of the history; no pickles) is written every epoch, and
``--resume`` goes on from it. Training stops at ``--epochs``, at the ``--budget`` in minutes, or
when validation has not improved for ``--patience`` epochs; the best epoch is exported
(``--export-only`` exports it again without training): the step graph of
listener.tunes.export with 4-bit weights, checked against torch in fp32, with the validation
loss of both recorded in the provenance.

Needs the ``train`` extra (torch, on the CPU); the runtime never imports torch.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from listener.tunes.corpus import read_data_v2, split_corpus  # noqa: E402
from listener.tunes.vocab import END, INDEX, START, VOCAB  # noqa: E402

PAD = -100  # ignored by the loss


class FolkLSTM(nn.Module):
    """folk-rnn v2: one-hot -> LSTM x layers -> dropout -> dense."""

    def __init__(self, vocab: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.register_buffer("one_hot", torch.eye(vocab))
        self.lstm = nn.LSTM(vocab, hidden, layers, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(dropout)
        self.dense = nn.Linear(hidden, vocab)

    def forward(self, tokens, state=None):
        out, state = self.lstm(self.one_hot[tokens], state)
        return self.dense(self.drop(out)), state


class StepModel(nn.Module):
    """One step, the reference for the exported graph: token [1], h, c -> logits [vocab], h, c."""

    def __init__(self, model: FolkLSTM) -> None:
        super().__init__()
        self.model = model

    def forward(self, token, h, c):
        out, (h_out, c_out) = self.model.lstm(self.model.one_hot[token].unsqueeze(0), (h, c))
        return self.model.dense(out[0, 0]), h_out, c_out


def load_tunes(path: Path) -> list[np.ndarray]:
    if not path.exists():
        sys.exit(f"{path}: no such corpus; write it with `listener tunes corpus -o {path}`")
    tunes = read_data_v2(path)
    if not tunes:
        sys.exit(f"{path}: no tunes; write it with `listener tunes corpus -o {path}`")
    return [np.array([INDEX[t] for t in [START, *tune.tokens(), END]]) for tune in tunes]


def batches(tunes: list[np.ndarray], size: int, rng: np.random.Generator):
    # tunes of similar length together (less padding), the batches in a random order
    order = np.argsort([len(t) for t in tunes], kind="stable")
    groups = [order[i : i + size] for i in range(0, len(order), size)]
    for g in rng.permutation(len(groups)):
        chosen = [tunes[i] for i in groups[g]]
        width = max(len(t) for t in chosen)
        x = np.zeros((len(chosen), width - 1), dtype=np.int64)
        y = np.full((len(chosen), width - 1), PAD, dtype=np.int64)
        for row, t in enumerate(chosen):
            x[row, : len(t) - 1] = t[:-1]
            y[row, : len(t) - 1] = t[1:]
        yield torch.from_numpy(x), torch.from_numpy(y)


def run_epoch(model, tunes, size, rng, optimiser=None, clip=5.0, budget_end=math.inf):
    # mean nats per token; trains when given an optimiser; stops early past budget_end
    train = optimiser is not None
    model.train(train)
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum")
    total = tokens = 0.0
    with torch.set_grad_enabled(train):
        for x, y in batches(tunes, size, rng):
            logits, _ = model(x)
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            n = int((y != PAD).sum())
            if train:
                optimiser.zero_grad()
                (loss / n).backward()
                nn.utils.clip_grad_value_(model.parameters(), clip)
                optimiser.step()
            total += loss.item()
            tokens += n
            if time.monotonic() > budget_end:
                break
    return total / max(tokens, 1), int(tokens)


def save_checkpoint(folder: Path, model, optimiser, meta: dict, best: dict | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{k}": v.detach().numpy() for k, v in model.state_dict().items()}
    for i, p in enumerate(model.parameters()):
        state = optimiser.state.get(p, {})
        if "square_avg" in state:
            arrays[f"opt/{i}/square_avg"] = state["square_avg"].numpy()
            arrays[f"opt/{i}/step"] = np.array(float(state["step"]))
    if best is not None:
        arrays.update({f"best/{k}": v for k, v in best.items()})
    tmp = folder / "checkpoint.tmp.npz"
    np.savez(tmp, **arrays)
    tmp.replace(folder / "checkpoint.npz")
    (folder / "checkpoint.json").write_text(json.dumps(meta, indent=1))


def load_checkpoint(folder: Path, model, optimiser) -> tuple[dict, dict | None]:
    meta = json.loads((folder / "checkpoint.json").read_text())
    with np.load(folder / "checkpoint.npz", allow_pickle=False) as data:
        model.load_state_dict(
            {k[6:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("model/")}
        )
        for i, p in enumerate(model.parameters()):
            if f"opt/{i}/square_avg" in data.files:
                optimiser.state[p] = {
                    "square_avg": torch.from_numpy(data[f"opt/{i}/square_avg"]),
                    "step": torch.tensor(float(data[f"opt/{i}/step"])),
                }
        best = {k[5:]: data[k] for k in data.files if k.startswith("best/")} or None
    return meta, best


def export(
    model: FolkLSTM,
    out: Path,
    fp32_path: Path,
    probe: np.ndarray,
    valid: list[np.ndarray],
    block_size: int,
) -> dict:
    """Write the shipped step model, its fp32 twin in the checkpoints and the fixture.

    The graph is built from the weights by :mod:`listener.tunes.export`; its fp32 version is
    checked against torch on the probe tokens, and the validation loss of the fp32 and of the
    4-bit model are measured through onnxruntime. The fixture (``.fixture.npz``: the first 50
    probe tokens and torch's logits after each) lets the tests check the shipped graph without
    torch. Returns the figures for the provenance.
    """
    import onnx

    from listener.tunes.export import quantize_step_graph, step_graph
    from listener.tunes.lstm import FolkLSTM as StepRuntime

    model.eval()
    weights = {k: v.detach().numpy() for k, v in model.state_dict().items() if k != "one_hot"}
    fp32 = step_graph(weights)
    fp32_path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(fp32, fp32_path)
    onnx.save(quantize_step_graph(fp32, block_size), out)
    reference = StepRuntime(fp32_path)
    shipped = StepRuntime(out)

    step = StepModel(model).eval()
    layers, hidden = reference.layers, reference.hidden
    h, c = torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden)
    hn, cn = reference.initial_state()
    worst = 0.0
    expected = []
    with torch.no_grad():
        for t in probe:
            logits, hn, cn = reference.step(int(t), hn, cn)
            ref, h, c = step(torch.tensor([int(t)]), h, c)
            expected.append(ref.numpy())
            worst = max(worst, float(np.abs(logits - ref.numpy()).max()))
    np.savez(
        out.with_suffix(".fixture.npz"),
        tokens=np.asarray(probe[:50], dtype=np.int64),
        logits=np.array(expected[:50], dtype=np.float32),
    )
    fp32_loss, count = reference.log_loss(valid)
    shipped_loss, _ = shipped.log_loss(valid)
    return {
        "onnx_parity_max_abs_logit_diff": worst,
        "fp32_onnx": str(fp32_path),
        "export": {"block_size": block_size, "graph": "listener.tunes.export"},
        "quantization": {
            "weights": f"4-bit asymmetric, blocks of {block_size} (onnxruntime MatMulNBits)",
            "arithmetic": "int8 activations (accuracy level 4)",
            "valid_tokens": count,
            "valid_loss_fp32": fp32_loss,
            "valid_loss_shipped": shipped_loss,
            "valid_loss_increase": shipped_loss - fp32_loss,
        },
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--corpus", type=Path, required=True, help="data_v2 file")
    p.add_argument("--out", type=Path, required=True, help="model path without suffix")
    p.add_argument("--checkpoints", type=Path, default=ROOT / "build" / "folk-lstm")
    p.add_argument("--resume", action="store_true", help="go on from the last checkpoint")
    p.add_argument("--layers", type=int, default=3)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--dropout", type=float, default=0.5)
    p.add_argument("--lr", type=float, default=0.003)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--clip", type=float, default=5.0)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--budget", type=float, default=60.0, help="minutes of training")
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument(
        "--block-size",
        type=int,
        default=128,
        help="weights per 4-bit quantisation block in the shipped graph (16..256, power of 2)",
    )
    p.add_argument(
        "--export-only",
        action="store_true",
        help="export the best epoch of the last checkpoint again, without training",
    )
    args = p.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tunes = load_tunes(args.corpus)
    train, valid = split_corpus(tunes, seed=args.seed)
    saved = args.checkpoints / "checkpoint.json"
    if (args.resume or args.export_only) and saved.exists():
        # the network's shape is the checkpoint's, whatever the flags say
        shape = json.loads(saved.read_text())["settings"]
        args.layers, args.hidden = shape["layers"], shape["hidden"]
    model = FolkLSTM(len(VOCAB), args.hidden, args.layers, args.dropout)
    optimiser = torch.optim.RMSprop(model.parameters(), lr=args.lr, alpha=0.9)
    meta = {
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "history": [],
        "epoch": 0,
        "seconds": 0.0,
    }
    best = None
    if args.export_only and not (args.checkpoints / "checkpoint.json").exists():
        sys.exit(f"{args.checkpoints}: no checkpoint to export; train first")
    if (args.resume or args.export_only) and (args.checkpoints / "checkpoint.json").exists():
        meta, best = load_checkpoint(args.checkpoints, model, optimiser)
        print(f"resumed after epoch {meta['epoch']}", flush=True)
    start = time.monotonic()
    budget_end = start + 60 * args.budget
    params = sum(p.numel() for p in model.parameters())
    print(f"{len(train)} training tunes, {len(valid)} validation, {params} parameters", flush=True)
    while not args.export_only and meta["epoch"] < args.epochs and time.monotonic() < budget_end:
        epoch = meta["epoch"] + 1
        rng = np.random.default_rng(args.seed * 1000 + epoch)
        t0 = time.monotonic()
        train_loss, n = run_epoch(model, train, args.batch, rng, optimiser, args.clip, budget_end)
        if time.monotonic() > budget_end and meta["history"]:
            print("time budget reached inside an epoch: not counted", flush=True)
            break
        valid_loss, _ = run_epoch(model, valid, args.batch, np.random.default_rng(0))
        seconds = time.monotonic() - t0
        meta["history"].append(
            {
                "epoch": epoch,
                "train_loss": train_loss,
                "valid_loss": valid_loss,
                "tokens_per_s": n / seconds,
            }
        )
        meta["epoch"] = epoch
        meta["seconds"] += seconds
        if best is None or valid_loss < float(best["valid_loss"]):
            best = {f"model/{k}": v.detach().numpy().copy() for k, v in model.state_dict().items()}
            best["valid_loss"] = np.array(valid_loss)
            best["epoch"] = np.array(epoch)
        save_checkpoint(args.checkpoints, model, optimiser, meta, best)
        print(json.dumps(meta["history"][-1]), flush=True)
        losses = [h["valid_loss"] for h in meta["history"]]
        if len(losses) > args.patience and min(losses[-args.patience :]) >= min(
            losses[: -args.patience]
        ):
            print(f"validation has not improved for {args.patience} epochs: stopping", flush=True)
            break

    model.load_state_dict(
        {k[6:]: torch.from_numpy(v) for k, v in best.items() if k.startswith("model/")}
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out.with_suffix(".onnx")
    probe = np.concatenate(valid)[:300]
    print("exporting: fp32 graph, 4-bit graph, validation loss of both", flush=True)
    figures = export(
        model, onnx_path, args.checkpoints / "step-fp32.onnx", probe, valid, args.block_size
    )
    (args.out.with_suffix(".vocab.json")).write_text(json.dumps(list(VOCAB)))
    provenance = {
        "model": "folk-rnn v2 LSTM (Sturm et al. 2016), trained here",
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "corpus": {
            "file": str(args.corpus),
            "tunes": len(tunes),
            "train": len(train),
            "valid": len(valid),
            "tokens": int(sum(len(t) for t in tunes)),
        },
        "settings": meta["settings"],
        "parameters": params,
        "epochs": meta["epoch"],
        "best_epoch": int(best["epoch"]),
        "best_valid_loss_nats_per_token": float(best["valid_loss"]),
        "history": meta["history"],
        "training_seconds": meta["seconds"],
        **figures,
        "onnx": {
            "inputs": {
                "token": "int64 [1]",
                "h": f"float32 [{args.layers}, 1, {args.hidden}]",
                "c": "same as h",
            },
            "outputs": {"logits": f"float32 [{len(VOCAB)}]", "h_out": "as h", "c_out": "as c"},
        },
    }
    args.out.with_suffix(".json").write_text(json.dumps(provenance, indent=1) + "\n")
    print(
        f"wrote {onnx_path}: best epoch {provenance['best_epoch']}, validation "
        f"{provenance['best_valid_loss_nats_per_token']:.3f} nats/token, "
        f"ONNX parity {figures['onnx_parity_max_abs_logit_diff']:.2e}, shipped graph "
        f"{figures['quantization']['valid_loss_shipped']:.4f} against fp32 "
        f"{figures['quantization']['valid_loss_fp32']:.4f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
