"""Small models for the client compatibility tests.

add.onnx is the model of OpenGradient's SDK example: num_output1 = num_input1 + num_input2 (float32), so
{"num_input1": [1, 2, 3], "num_input2": 10} gives num_output1 = [11, 12, 13]. affine.onnx has one input, for
the Solidity contract: x = [1, 2, 3, 4] gives y = [12.5, 0.5].
"""
import sys
from pathlib import Path

import onnx
from onnx import TensorProto, helper


def add_model():
    a = helper.make_tensor_value_info("num_input1", TensorProto.FLOAT, [3])
    b = helper.make_tensor_value_info("num_input2", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("num_output1", TensorProto.FLOAT, [3])
    graph = helper.make_graph([helper.make_node("Add", ["num_input1", "num_input2"], ["num_output1"])], "add", [a, b], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ogn-compat")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def affine_model():
    """y = x @ W + b with x: float32[1, 4], W = [[1, 0], [0, 1], [1, 1], [2, -1]], b = [0.5, -0.5]."""
    import numpy as np
    from onnx import numpy_helper

    w = numpy_helper.from_array(np.array([[1, 0], [0, 1], [1, 1], [2, -1]], dtype=np.float32), "W")
    b = numpy_helper.from_array(np.array([0.5, -0.5], dtype=np.float32), "b")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    nodes = [helper.make_node("MatMul", ["x", "W"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["y"])]
    graph = helper.make_graph(nodes, "affine", [x], [y], initializer=[w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="ogn-compat")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(add_model(), out / "add.onnx")
    onnx.save(affine_model(), out / "affine.onnx")
