"""Build the composer's ONNX step model from trained weights (needs the ``train`` extra).

The graph is written by hand rather than traced from torch, because one sampling step is what
the composer pays for every token and a traced ``nn.LSTM`` carries work a step does not need:

* **Embedding lookup, not a one-hot product.** The first layer's input projection of a one-hot
  token is one column of its input weights, so that column (with both biases folded in) is
  looked up with ``Gather`` from a ``[vocab, 4*hidden]`` table.
* **One product per layer.** Layers above the first multiply ``[x, h]`` by the stacked input and
  recurrent weights in a single ``MatMul``.
* **One nonlinearity for all four gates.** ``tanh(x) = 2 sigmoid(2x) - 1``: the cell-input gate's
  rows are scaled by 2 at export, so one ``Sigmoid`` covers every gate.
* **4-bit weights, 8-bit arithmetic.** Each ``MatMul`` becomes onnxruntime's ``MatMulNBits``:
  weights in blocks of ``block_size`` along the input with an asymmetric 4-bit code and a float
  scale per block; at ``accuracy_level`` 4 the activations are quantised to int8 per block and
  the products run as int8 dot products. At 3 x 512 the weights shrink from 21 MB (fp32) and
  5.1 MB (int8) to 2.6 MB, which fits the 4 MB level-2 cache of one core, and the step is bound
  by memory traffic, not arithmetic. The cost in validation loss is measured at export and
  recorded in the model's provenance.

The interface is the one :class:`listener.tunes.lstm.FolkLSTM` reads: inputs ``token`` int64
[batch], ``h`` and ``c`` float32 [layers, batch, hidden]; outputs ``logits`` float32
[batch * vocab] (one token's [vocab]), ``h_out`` and ``c_out``. A batch of one is the composer's
step; a few at once are the reader's candidate writings of a phrase, judged together. Weights
are named as PyTorch's ``nn.LSTM`` and ``nn.Linear`` name them (``lstm.weight_ih_l0``, ...,
``dense.weight``, ``dense.bias``), gates in PyTorch's order (input, forget, cell, output).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from listener.errors import ModelError

#: Opset of the plain-ONNX part of the graph.
OPSET = 17


def layer_count(weights: Mapping[str, np.ndarray]) -> int:
    """Count the LSTM layers in a PyTorch-named weight dict."""
    layers = 0
    while f"lstm.weight_ih_l{layers}" in weights:
        layers += 1
    if layers == 0 or "dense.weight" not in weights:
        raise ModelError("weights: expected lstm.weight_ih_l0 ... and dense.weight (PyTorch names)")
    return layers


def step_graph(weights: Mapping[str, np.ndarray]):
    """Build the fp32 step model (an ``onnx.ModelProto``) from LSTM and dense weights.

    Parameters
    ----------
    weights : mapping of str to ndarray
        PyTorch state-dict names and arrays: ``lstm.{weight_ih,weight_hh,bias_ih,bias_hh}_l{k}``
        for each layer, ``dense.weight`` [vocab, hidden] and ``dense.bias``.
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    layers = layer_count(weights)
    vocab, hidden = weights["dense.weight"].shape
    nodes: list = []
    initializers: list = []

    def const(name: str, array) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), "w_" + name))
        return "w_" + name

    def node(op: str, inputs: list[str], outputs: list[str], **attrs) -> list[str]:
        nodes.append(helper.make_node(op, inputs, outputs, **attrs))
        return outputs

    # Rows of the cell-input gate ("g", the third quarter) doubled: see the module docstring.
    gate_scale = np.ones(4 * hidden, dtype=np.float32)
    gate_scale[2 * hidden : 3 * hidden] = 2.0
    if layers > 1:
        sizes = const("split_layers", np.ones(layers, dtype=np.int64))
        h_in = node("Split", ["h", sizes], [f"h_{k}" for k in range(layers)], axis=0)
        c_in = node("Split", ["c", sizes], [f"c_{k}" for k in range(layers)], axis=0)
    else:
        h_in, c_in = ["h"], ["c"]
    two, one = const("two", np.float32(2.0)), const("one", np.float32(1.0))
    quarters = const("quarters", np.full(4, hidden, dtype=np.int64))
    x = ""
    for k in range(layers):
        w_ih = weights[f"lstm.weight_ih_l{k}"] * gate_scale[:, None]
        w_hh = weights[f"lstm.weight_hh_l{k}"] * gate_scale[:, None]
        bias = (weights[f"lstm.bias_ih_l{k}"] + weights[f"lstm.bias_hh_l{k}"]) * gate_scale
        if k == 0:
            table = const("embed", (w_ih.T + bias).astype(np.float32))  # [vocab, 4 hidden]
            (looked_up,) = node("Gather", [table, "token"], ["embed_0"], axis=0)
            (recurrent,) = node("MatMul", [h_in[0], const("w_hh_0", w_hh.T)], ["rec_0"])
            (gates,) = node("Add", [looked_up, recurrent], ["gates_0"])
        else:
            (joined,) = node("Concat", [x, h_in[k]], [f"xh_{k}"], axis=2)
            stacked = np.concatenate([w_ih, w_hh], axis=1).T  # [2 hidden, 4 hidden]
            (product,) = node("MatMul", [joined, const(f"w_{k}", stacked)], [f"prod_{k}"])
            (gates,) = node("Add", [product, const(f"b_{k}", bias)], [f"gates_{k}"])
        (sig,) = node("Sigmoid", [gates], [f"sig_{k}"])
        i, f, g2, o = node("Split", [sig, quarters], [f"{q}_{k}" for q in "ifgo"], axis=2)
        (doubled,) = node("Mul", [g2, two], [f"g2x_{k}"])
        (g,) = node("Sub", [doubled, one], [f"tanh_g_{k}"])
        (kept,) = node("Mul", [f, c_in[k]], [f"kept_{k}"])
        (written,) = node("Mul", [i, g], [f"written_{k}"])
        (c_new,) = node("Add", [kept, written], [f"c_new_{k}"])
        (squashed,) = node("Tanh", [c_new], [f"tanh_c_{k}"])
        (x,) = node("Mul", [o, squashed], [f"h_new_{k}"])
    node("Concat", [f"h_new_{k}" for k in range(layers)], ["h_out"], axis=0)
    node("Concat", [f"c_new_{k}" for k in range(layers)], ["c_out"], axis=0)
    (z,) = node("MatMul", [x, const("dense", weights["dense.weight"].T)], ["dense_prod"])
    (z,) = node("Add", [z, const("dense_bias", weights["dense.bias"])], ["dense_out"])
    node("Reshape", [z, const("vocab_shape", np.array([-1], dtype=np.int64))], ["logits"])

    state = [layers, "batch", hidden]
    graph = helper.make_graph(
        nodes,
        "folk_rnn_step",
        [
            helper.make_tensor_value_info("token", TensorProto.INT64, ["batch"]),
            helper.make_tensor_value_info("h", TensorProto.FLOAT, state),
            helper.make_tensor_value_info("c", TensorProto.FLOAT, state),
        ],
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_vocab"]),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, state),
            helper.make_tensor_value_info("c_out", TensorProto.FLOAT, state),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.producer_name = "listener"
    onnx.checker.check_model(model)
    return model


def free_batch(model):
    """Let a step model exported with a batch of one take any batch (the same weights).

    Models exported before the batch was free fixed it at one in their inputs, outputs and
    the logits' shape; this rewrites those three, and nothing the numbers depend on.
    """
    from onnx import numpy_helper

    def free(value, dims) -> None:
        for dim, size in zip(value.type.tensor_type.shape.dim, dims, strict=True):
            dim.ClearField("dim_value")
            if isinstance(size, str):
                dim.dim_param = size
            else:
                dim.dim_value = size

    graph = model.graph
    (h,) = [v for v in graph.input if v.name == "h"]
    layers, _, hidden = (d.dim_value for d in h.type.tensor_type.shape.dim)
    for value in [*graph.input, *graph.output]:
        if value.name == "token":
            free(value, ["batch"])
        elif value.name == "logits":
            free(value, ["batch_vocab"])
        else:
            free(value, [layers, "batch", hidden])
    for tensor in graph.initializer:
        if tensor.name.endswith("vocab_shape"):
            tensor.CopyFrom(numpy_helper.from_array(np.array([-1], dtype=np.int64), tensor.name))
    return model


def quantize_step_graph(model, block_size: int = 128, accuracy_level: int = 4):
    """Turn every ``MatMul`` of a step model into 4-bit ``MatMulNBits`` (asymmetric, blocked).

    Parameters
    ----------
    model : onnx.ModelProto
        From :func:`step_graph`.
    block_size : int
        Weights sharing one scale and zero point, along the input dimension (16..256, a power
        of 2). Smaller blocks are more faithful and slower.
    accuracy_level : int
        onnxruntime's compute type for the activations: 4 is int8, 0 leaves the choice to it.
    """
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    # it reports every node it visits at INFO level
    logging.getLogger(MatMulNBitsQuantizer.__module__).setLevel(logging.WARNING)
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=4,
        block_size=block_size,
        is_symmetric=False,
        accuracy_level=accuracy_level,
        op_types_to_quantize=("MatMul",),
    )
    quantizer.process()
    return _fold_biases(quantizer.model.model)


def _fold_biases(model):
    # MatMulNBits takes a bias (its sixth input): fold each constant Add after one into it.
    constants = {t.name for t in model.graph.initializer}
    producers = {n.output[0]: n for n in model.graph.node if n.op_type == "MatMulNBits"}
    kept = []
    for node in model.graph.node:
        matmul = producers.get(node.input[0]) if node.op_type == "Add" else None
        if matmul is not None and node.input[1] in constants:
            matmul.input.extend([""] * (5 - len(matmul.input)) + [node.input[1]])
            matmul.output[0] = node.output[0]
            continue
        kept.append(node)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model
