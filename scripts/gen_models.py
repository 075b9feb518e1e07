#!/usr/bin/env python3
"""Generate the small ONNX models that the ogn-runtime tests use, deterministically.

    python3 scripts/gen_models.py OUT_DIR

Writes, with weights drawn from fixed seeds (numpy PCG64, stable across numpy versions):

    mlp.onnx          float32 MLP 784-128-10 (Gemm, Relu, Gemm), input "input" [N, 784]
    lenet.onnx        float32 LeNet-5 shape: (Conv 5x5, Relu, MaxPool 2) x2, Gemm 400-120-84-10,
                      input "input" [N, 1, 28, 28]
    mlp_int8.onnx     the MLP quantized to int8 in ONNX's QOperator form: QuantizeLinear,
                      QLinearMatMul, DequantizeLinear (+ float bias Add and Relu between layers)
    lenet_int8.onnx   the LeNet quantized to int8: QLinearConv (int32 bias, ReLU folded into the
                      output zero point), int8 MaxPool, QLinearMatMul for the dense layers
    mlp_1m.onnx       float32 MLP 784-1024-256-10 (1,068,810 parameters), input "input" [N, 784]
    mlp_1m_int8.onnx  that MLP quantized to int8 the same way as mlp_int8

Quantization scales come from a fixed calibration batch run through the float model with
onnxruntime (symmetric per-tensor int8 weights, activation ranges from the batch's max).
Running the script twice produces byte-identical files.
"""

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
SEED = 20240601


def init(name, array):
    array = np.asarray(array)
    if array.ndim > 0:
        array = np.ascontiguousarray(array)
    return numpy_helper.from_array(array, name)


def he(rng, shape, fan_in):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def finish(graph, path):
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="ogn-gen-models",
        producer_version="1",
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    path.write_bytes(model.SerializeToString())
    return model


def mlp_weights():
    rng = np.random.default_rng(SEED)
    w1 = he(rng, (784, 128), 784)
    b1 = (rng.standard_normal(128) * 0.01).astype(np.float32)
    w2 = he(rng, (128, 10), 128)
    b2 = (rng.standard_normal(10) * 0.01).astype(np.float32)
    return w1, b1, w2, b2


def lenet_weights():
    rng = np.random.default_rng(SEED + 1)
    return {
        "c1w": he(rng, (6, 1, 5, 5), 25),
        "c1b": (rng.standard_normal(6) * 0.01).astype(np.float32),
        "c2w": he(rng, (16, 6, 5, 5), 150),
        "c2b": (rng.standard_normal(16) * 0.01).astype(np.float32),
        "f1w": he(rng, (400, 120), 400),
        "f1b": (rng.standard_normal(120) * 0.01).astype(np.float32),
        "f2w": he(rng, (120, 84), 120),
        "f2b": (rng.standard_normal(84) * 0.01).astype(np.float32),
        "f3w": he(rng, (84, 10), 84),
        "f3b": (rng.standard_normal(10) * 0.01).astype(np.float32),
    }


def calibration(shape):
    """A fixed batch of image-like inputs in [0, 1]."""
    rng = np.random.default_rng(SEED + 7)
    return rng.random(shape, dtype=np.float32)


def build_mlp(path):
    w1, b1, w2, b2 = mlp_weights()
    nodes = [
        helper.make_node("Gemm", ["input", "w1", "b1"], ["h1"], name="fc1"),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("Gemm", ["a1", "w2", "b2"], ["logits"], name="fc2"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [init("w1", w1), init("b1", b1), init("w2", w2), init("b2", b2)],
    )
    return finish(graph, path)


def build_lenet(path):
    w = lenet_weights()
    nodes = [
        helper.make_node("Conv", ["input", "c1w", "c1b"], ["c1"], name="conv1", pads=[2, 2, 2, 2]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2w", "c2b"], ["c2"], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("MaxPool", ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "f1w", "f1b"], ["h1"], name="fc1"),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu3"),
        helper.make_node("Gemm", ["a1", "f2w", "f2b"], ["h2"], name="fc2"),
        helper.make_node("Relu", ["h2"], ["a2"], name="relu4"),
        helper.make_node("Gemm", ["a2", "f3w", "f3b"], ["logits"], name="fc3"),
    ]
    graph = helper.make_graph(
        nodes,
        "lenet",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        [init(k, v) for k, v in w.items()],
    )
    return finish(graph, path)


def activation_max(model, names, batch):
    """Max |value| of the named intermediate tensors of `model` on `batch`, via onnxruntime."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    del m.graph.output[:]
    for n in names:
        m.graph.output.append(helper.make_tensor_value_info(n, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    outs = sess.run(names, {"input": batch})
    return {n: float(np.abs(o).max()) for n, o in zip(names, outs)}


def f32(x):
    return np.array(x, dtype=np.float32)


def quant_weight(w):
    """Symmetric per-tensor int8: (q, scale) with w ~= q * scale."""
    scale = np.float32(np.abs(w).max() / 127.0)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


def qparams(prefix, scale, zero_point):
    return [init(f"{prefix}_scale", f32(scale)), init(f"{prefix}_zp", np.array(zero_point, dtype=np.int8))]


def build_mlp_int8(float_model, path):
    w1, b1, w2, b2 = mlp_weights()
    ranges = activation_max(float_model, ["input", "a1"], calibration((64, 784)))
    x_scale = ranges["input"] / 127.0
    a1_scale = ranges["a1"] / 255.0  # ReLU output: [0, max] onto [-128, 127] with zero point -128
    w1q, w1s = quant_weight(w1)
    w2q, w2s = quant_weight(w2)
    # Output scales of the integer products (bias is added in float after them).
    pre = activation_max(float_model, ["h1", "logits"], calibration((64, 784)))
    y1_scale = pre["h1"] / 127.0
    y2_scale = pre["logits"] / 127.0
    inits = (
        qparams("x", x_scale, 0)
        + qparams("w1", w1s, 0)
        + qparams("y1", y1_scale, 0)
        + qparams("a1", a1_scale, -128)
        + qparams("w2", w2s, 0)
        + qparams("y2", y2_scale, 0)
        + [init("w1_q", w1q), init("w2_q", w2q), init("b1", b1), init("b2", b2)]
    )
    nodes = [
        helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zp"], ["x_q"], name="quant_in"),
        helper.make_node(
            "QLinearMatMul",
            ["x_q", "x_scale", "x_zp", "w1_q", "w1_scale", "w1_zp", "y1_scale", "y1_zp"],
            ["y1_q"],
            name="fc1",
        ),
        helper.make_node("DequantizeLinear", ["y1_q", "y1_scale", "y1_zp"], ["y1"], name="dequant1"),
        helper.make_node("Add", ["y1", "b1"], ["h1"], name="bias1"),
        helper.make_node("Relu", ["h1"], ["a1"], name="relu1"),
        helper.make_node("QuantizeLinear", ["a1", "a1_scale", "a1_zp"], ["a1_q"], name="quant1"),
        helper.make_node(
            "QLinearMatMul",
            ["a1_q", "a1_scale", "a1_zp", "w2_q", "w2_scale", "w2_zp", "y2_scale", "y2_zp"],
            ["y2_q"],
            name="fc2",
        ),
        helper.make_node("DequantizeLinear", ["y2_q", "y2_scale", "y2_zp"], ["y2"], name="dequant2"),
        helper.make_node("Add", ["y2", "b2"], ["logits"], name="bias2"),
    ]
    graph = helper.make_graph(
        nodes,
        "mlp_int8",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    return finish(graph, path)


def build_lenet_int8(float_model, path):
    w = lenet_weights()
    batch = calibration((16, 1, 28, 28))
    r = activation_max(float_model, ["input", "r1", "r2", "h1", "a1", "h2", "a2", "logits"], batch)
    s = {
        "x": r["input"] / 127.0,
        "r1": r["r1"] / 255.0,
        "r2": r["r2"] / 255.0,
        "a1": r["a1"] / 255.0,
        "a2": r["a2"] / 255.0,
        "logits": r["logits"] / 127.0,
    }
    inits = []
    nodes = [helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zp"], ["x_q"], name="quant_in")]
    inits += qparams("x", s["x"], 0)

    def qconv(name, x, x_s, wkey, bkey, y, y_s, **attrs):
        wq, ws = quant_weight(w[wkey])
        bq = np.rint(w[bkey] / (np.float32(x_s) * ws)).astype(np.int32)
        inits.extend(qparams(f"{name}_w", ws, 0) + [init(f"{name}_wq", wq), init(f"{name}_bq", bq)])
        nodes.append(
            helper.make_node(
                "QLinearConv",
                [x, f"{x}_scale", f"{x}_zp", f"{name}_wq", f"{name}_w_scale", f"{name}_w_zp", f"{y}_scale", f"{y}_zp", f"{name}_bq"],
                [y],
                name=name,
                **attrs,
            )
        )
        inits.extend(qparams(y, y_s, -128))  # ReLU folded: real 0 maps to -128

    # scales of x_q are named x_q_scale / x_q_zp for uniform wiring
    inits += qparams("x_q", s["x"], 0)
    qconv("conv1", "x_q", s["x"], "c1w", "c1b", "r1_q", s["r1"], pads=[2, 2, 2, 2])
    nodes.append(helper.make_node("MaxPool", ["r1_q"], ["p1_q"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]))
    inits += qparams("p1_q", s["r1"], -128)
    qconv("conv2", "p1_q", s["r1"], "c2w", "c2b", "r2_q", s["r2"])
    nodes.append(helper.make_node("MaxPool", ["r2_q"], ["p2_q"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]))
    nodes.append(helper.make_node("Flatten", ["p2_q"], ["flat_q"], name="flatten", axis=1))

    def qdense(name, x, x_s, x_zp, wkey, bkey, pre_max, out, out_s, out_zp, relu):
        wq, ws = quant_weight(w[wkey])
        pre_s = pre_max / 127.0  # the integer product is requantized to int8, bias added in float
        inits.extend(
            qparams(f"{name}_x", x_s, x_zp)
            + qparams(f"{name}_w", ws, 0)
            + qparams(f"{name}_y", pre_s, 0)
            + [init(f"{name}_wq", wq), init(f"{name}_b", w[bkey])]
        )
        nodes.append(
            helper.make_node(
                "QLinearMatMul",
                [x, f"{name}_x_scale", f"{name}_x_zp", f"{name}_wq", f"{name}_w_scale", f"{name}_w_zp",
                 f"{name}_y_scale", f"{name}_y_zp"],
                [f"{name}_yq"],
                name=name,
            )
        )
        nodes.append(
            helper.make_node("DequantizeLinear", [f"{name}_yq", f"{name}_y_scale", f"{name}_y_zp"],
                             [f"{name}_y"], name=f"{name}_dequant")
        )
        biased = out if not relu and out_s is None else f"{name}_h"
        nodes.append(helper.make_node("Add", [f"{name}_y", f"{name}_b"], [biased], name=f"{name}_bias"))
        if relu:
            nodes.append(helper.make_node("Relu", [biased], [f"{name}_a"], name=f"{name}_relu"))
            inits.extend(qparams(f"{name}_out", out_s, out_zp))
            nodes.append(
                helper.make_node("QuantizeLinear", [f"{name}_a", f"{name}_out_scale", f"{name}_out_zp"], [out],
                                 name=f"{name}_quant")
            )

    qdense("fc1", "flat_q", s["r2"], -128, "f1w", "f1b", r["h1"], "a1_q", s["a1"], -128, True)
    qdense("fc2", "a1_q", s["a1"], -128, "f2w", "f2b", r["h2"], "a2_q", s["a2"], -128, True)
    qdense("fc3", "a2_q", s["a2"], -128, "f3w", "f3b", r["logits"], "logits", None, None, False)

    # drop duplicate initializers (same name added twice) while keeping the first
    seen, unique = set(), []
    for t in inits:
        if t.name not in seen:
            seen.add(t.name)
            unique.append(t)
    graph = helper.make_graph(
        nodes,
        "lenet_int8",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 1, 28, 28])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        unique,
    )
    return finish(graph, path)


def mlp_1m_weights():
    rng = np.random.default_rng(SEED + 2)
    return [
        (he(rng, (784, 1024), 784), (rng.standard_normal(1024) * 0.01).astype(np.float32)),
        (he(rng, (1024, 256), 1024), (rng.standard_normal(256) * 0.01).astype(np.float32)),
        (he(rng, (256, 10), 256), (rng.standard_normal(10) * 0.01).astype(np.float32)),
    ]


def build_mlp_1m(path):
    """float32 MLP 784-1024-256-10 (1,068,810 parameters): Gemm, Relu, Gemm, Relu, Gemm."""
    layers = mlp_1m_weights()
    nodes, inits, x = [], [], "input"
    for i, (w, b) in enumerate(layers, 1):
        y = "logits" if i == len(layers) else f"h{i}"
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [y], name=f"fc{i}"))
        inits += [init(f"w{i}", w), init(f"b{i}", b)]
        if i < len(layers):
            nodes.append(helper.make_node("Relu", [y], [f"a{i}"], name=f"relu{i}"))
            x = f"a{i}"
    graph = helper.make_graph(
        nodes,
        "mlp_1m",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    return finish(graph, path)


def build_mlp_1m_int8(float_model, path):
    """The 1M MLP quantized like mlp_int8: QLinearMatMul per layer, float bias Add and Relu between."""
    layers = mlp_1m_weights()
    n = len(layers)
    names = ["input"] + [f"a{i}" for i in range(1, n)] + [f"h{i}" for i in range(1, n)] + ["logits"]
    r = activation_max(float_model, names, calibration((64, 784)))
    inits = qparams("x", r["input"] / 127.0, 0)
    nodes = [helper.make_node("QuantizeLinear", ["input", "x_scale", "x_zp"], ["x_q"], name="quant_in")]
    x, x_prefix = "x_q", "x"
    for i, (w, b) in enumerate(layers, 1):
        wq, ws = quant_weight(w)
        pre = r["logits"] if i == n else r[f"h{i}"]
        inits += qparams(f"w{i}", ws, 0) + qparams(f"y{i}", pre / 127.0, 0) + [init(f"w{i}_q", wq), init(f"b{i}", b)]
        nodes += [
            helper.make_node(
                "QLinearMatMul",
                [x, f"{x_prefix}_scale", f"{x_prefix}_zp", f"w{i}_q", f"w{i}_scale", f"w{i}_zp", f"y{i}_scale", f"y{i}_zp"],
                [f"y{i}_q"],
                name=f"fc{i}",
            ),
            helper.make_node("DequantizeLinear", [f"y{i}_q", f"y{i}_scale", f"y{i}_zp"], [f"y{i}"], name=f"dequant{i}"),
        ]
        if i == n:
            nodes.append(helper.make_node("Add", [f"y{i}", f"b{i}"], ["logits"], name=f"bias{i}"))
        else:
            inits += qparams(f"a{i}", r[f"a{i}"] / 255.0, -128)
            nodes += [
                helper.make_node("Add", [f"y{i}", f"b{i}"], [f"h{i}"], name=f"bias{i}"),
                helper.make_node("Relu", [f"h{i}"], [f"a{i}"], name=f"relu{i}"),
                helper.make_node("QuantizeLinear", [f"a{i}", f"a{i}_scale", f"a{i}_zp"], [f"a{i}_q"], name=f"quant{i}"),
            ]
            x, x_prefix = f"a{i}_q", f"a{i}"
    graph = helper.make_graph(
        nodes,
        "mlp_1m_int8",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
        inits,
    )
    return finish(graph, path)


def main():
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "fixtures" / "models"
    out.mkdir(parents=True, exist_ok=True)
    mlp = build_mlp(out / "mlp.onnx")
    lenet = build_lenet(out / "lenet.onnx")
    build_mlp_int8(mlp, out / "mlp_int8.onnx")
    build_lenet_int8(lenet, out / "lenet_int8.onnx")
    mlp_1m = build_mlp_1m(out / "mlp_1m.onnx")
    build_mlp_1m_int8(mlp_1m, out / "mlp_1m_int8.onnx")
    for name in ["mlp", "lenet", "mlp_int8", "lenet_int8", "mlp_1m", "mlp_1m_int8"]:
        print(f"gen_models: wrote {out / (name + '.onnx')}", file=sys.stderr)


if __name__ == "__main__":
    main()
