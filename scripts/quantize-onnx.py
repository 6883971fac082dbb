#!/usr/bin/python3
"""quantize-onnx.py — dynamic int8 quantization of an fp32 ONNX model, the way
onnxruntime's `quantize_dynamic` does it (the model FlashRank and fastembed
ship), for scripts/bench.  onnxruntime's Python package is not needed: only
python3-onnx and numpy.

usage: quantize-onnx.py IN.onnx OUT.onnx [--per-channel]

What it does, following onnxruntime/python/tools/quantization (quantize.py
quantize_dynamic, onnx_quantizer.py, base_quantizer.py, quant_utils.py,
operators/matmul.py MatMulInteger, operators/gather.py GatherQuant) with
quantize_dynamic's defaults (weight_type QInt8, per_channel False,
reduce_range False, MatMulConstBOnly True, WeightSymmetric True for QInt8,
ActivationSymmetric False, op types: the IntegerOps registry):

- Gemm nodes become MatMul + Add (ONNXModel.replace_gemm_with_matmul, which
  dynamic mode runs first; transB is folded into a transposed initializer),
  so the pooler and the classifier are quantized too.
- Every MatMul whose B is a float initializer (MatMulConstBOnly: the
  attention products Q.K^T and P.V stay float) becomes
      DynamicQuantizeLinear(A) -> A_q (uint8), A_scale, A_zp  (per tensor)
      MatMulInteger(A_q, B_q, A_zp, B_zp) -> int32
      Cast(float) * (A_scale * B_scale)
  B_q is int8, symmetric: scale = max|B| / 127, zero point 0, values
  round-half-even(B / scale) clipped to [-127, 127]; per tensor by default,
  per output column (axis -1) with --per-channel.  A tensor feeding several
  MatMuls (Q, K, V) is quantized once.
- Every Gather whose data is a float initializer (the word, position and
  token-type embeddings) gathers from a uint8 copy of the table (asymmetric
  per tensor: range [min(x,0), max(x,0)] over 255 steps, zero point
  round(-rmin / scale)), and a DequantizeLinear gives float to the Add.
- Conv / Attention / LSTM / EmbedLayerNormalization are not in these graphs;
  the script refuses a graph that has them rather than leave them float
  silently.  Transpose (Direct8BitOp) is only quantized when its input is
  already quantized, which never happens here.

Note what this means for onnxruntime int8 (not for rerank): the activation
scale is one per tensor, i.e. per batch, so a pair's score depends on which
pairs share its batch."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def round_half_even(x):
    return np.round(x)  # numpy rounds half to even, as quant_utils does


def quantize_weight(w, per_channel):
    """int8 symmetric (quant_utils.compute_scale_zp with symmetric=True,
    qmin/qmax -127/127): scale = absmax / 127, zero point 0."""
    if per_channel:
        rmin = np.minimum(w.min(axis=0), 0)
        rmax = np.maximum(w.max(axis=0), 0)
    else:
        rmin = np.minimum(w.min(), 0)
        rmax = np.maximum(w.max(), 0)
    absmax = np.maximum(np.abs(rmin), np.abs(rmax)).astype(np.float64)
    scale = (2 * absmax / 254.0).astype(np.float32)
    scale = np.where(scale < np.finfo(np.float32).tiny, np.float32(1.0), scale)
    q = np.clip(round_half_even(w.astype(np.float32) / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32), np.zeros_like(scale, dtype=np.int8)


def quantize_table(t):
    """uint8 asymmetric per tensor, as an activation-typed initializer."""
    rmin = np.float32(min(float(t.min()), 0.0))
    rmax = np.float32(max(float(t.max()), 0.0))
    scale = np.float32(np.float64(rmax - rmin) / 255.0)
    if scale < np.finfo(np.float32).tiny:
        scale, zp = np.float32(1.0), np.uint8(0)
    else:
        zp = np.uint8(round_half_even(0 - rmin / scale))
    q = np.clip(round_half_even(t.astype(np.float32) / scale) + zp, 0, 255).astype(np.uint8)
    return q, scale, zp


def gemm_to_matmul(graph, inits):
    """Gemm(A, B, C) with alpha = beta = 1, transA = 0 -> MatMul + Add."""
    nodes = []
    for n in graph.node:
        if n.op_type != "Gemm":
            nodes.append(n)
            continue
        at = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        if at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0 or at.get("transA", 0):
            nodes.append(n)
            continue
        b = n.input[1]
        if at.get("transB", 0):
            if b not in inits:
                nodes.append(n)
                continue
            w = numpy_helper.to_array(inits[b]).T.copy()
            b = b + "_Transposed"
            inits[b] = numpy_helper.from_array(w, b)
        mm_out = n.output[0] + "_MatMul"
        nodes.append(helper.make_node("MatMul", [n.input[0], b], [mm_out], n.name + "_MatMul"))
        if len(n.input) > 2 and n.input[2]:
            nodes.append(helper.make_node("Add", [mm_out, n.input[2]], [n.output[0]], n.name + "_Add"))
        else:
            nodes[-1].output[0] = n.output[0]
    return nodes


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    per_channel = "--per-channel" in sys.argv[1:]
    if len(args) != 2 or any(a not in ("--per-channel",) for a in sys.argv[1:] if a.startswith("--")):
        sys.exit(__doc__.split("\n\n")[1])
    model = onnx.load(args[0])
    graph = model.graph
    bad = {n.op_type for n in graph.node} & {"Conv", "Attention", "LSTM", "EmbedLayerNormalization"}
    if bad:
        sys.exit("quantize-onnx: op types not handled: %s" % ", ".join(sorted(bad)))
    inits = {i.name: i for i in graph.initializer}
    nodes = gemm_to_matmul(graph, inits)

    def is_float_init(name):
        return name in inits and inits[name].data_type == TensorProto.FLOAT

    new_inits = {}
    quantized_act = {}   # float tensor -> (q, scale, zp) from DynamicQuantizeLinear
    quantized_w = {}     # initializer -> (q, scale, zp) names
    out, n_mm, n_gather = [], 0, 0
    for n in nodes:
        if n.op_type == "MatMul" and is_float_init(n.input[1]):
            a, b = n.input
            if a not in quantized_act:
                names = (a + "_quantized", a + "_scale", a + "_zero_point")
                out.append(helper.make_node("DynamicQuantizeLinear", [a], list(names), a + "_QuantizeLinear"))
                quantized_act[a] = names
            if b not in quantized_w:
                q, s, z = quantize_weight(numpy_helper.to_array(inits[b]), per_channel)
                names = (b + "_quantized", b + "_scale", b + "_zero_point")
                for arr, name in zip((q, s, z), names):
                    new_inits[name] = numpy_helper.from_array(np.asarray(arr), name)
                quantized_w[b] = names
            (aq, asc, azp), (bq, bsc, bzp) = quantized_act[a], quantized_w[b]
            y = n.output[0]
            base = n.name + "_quant" if n.name else y
            out.append(helper.make_node("MatMulInteger", [aq, bq, azp, bzp], [y + "_output_quantized"], base))
            out.append(helper.make_node("Cast", [y + "_output_quantized"], [y + "_output_quantized_cast_output"],
                                        y + "_output_quantized_cast", to=TensorProto.FLOAT))
            out.append(helper.make_node("Mul", [asc, bsc], [base + "_scales_mul:0"], base + "_scales_mul"))
            out.append(helper.make_node("Mul", [y + "_output_quantized_cast_output", base + "_scales_mul:0"], [y],
                                        base + "_output_scale_mul"))
            n_mm += 1
        elif n.op_type == "Gather" and is_float_init(n.input[0]):
            t = n.input[0]
            q, s, z = quantize_table(numpy_helper.to_array(inits[t]))
            names = (t + "_quantized", t + "_scale", t + "_zero_point")
            for arr, name in zip((q, s, z), names):
                new_inits[name] = numpy_helper.from_array(np.asarray(arr), name)
            y = n.output[0]
            out.append(helper.make_node("Gather", [names[0], n.input[1]], [y + "_quantized"], n.name,
                                        axis=next((helper.get_attribute_value(a) for a in n.attribute
                                                   if a.name == "axis"), 0)))
            out.append(helper.make_node("DequantizeLinear", [y + "_quantized", names[1], names[2]], [y],
                                        y + "_DequantizeLinear"))
            n_gather += 1
        else:
            out.append(n)
    used = {i for n in out for i in n.input}
    keep = [i for name, i in inits.items() if name in used and name not in quantized_w]
    keep += [i for name, i in new_inits.items() if name in used]
    del graph.node[:]
    graph.node.extend(out)
    del graph.initializer[:]
    graph.initializer.extend(keep)
    del graph.value_info[:]
    if all(o.domain not in ("", "ai.onnx") or o.version >= 11 for o in model.opset_import):
        pass
    else:
        sys.exit("quantize-onnx: needs opset >= 11 (DynamicQuantizeLinear)")
    onnx.checker.check_model(model)
    onnx.save(model, args[1])
    print("quantize-onnx: %d MatMul -> MatMulInteger (%s weights), %d Gather tables -> uint8"
          % (n_mm, "per-channel" if per_channel else "per-tensor", n_gather), file=sys.stderr)


if __name__ == "__main__":
    main()
