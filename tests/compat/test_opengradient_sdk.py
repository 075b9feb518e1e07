"""OpenGradient's own Python SDK (opengradient==1.1.4, unmodified) against an ogn devnet."""
import numpy as np
import opengradient as og

from conftest import DEV_KEYS, INFERENCE_CONTRACT


def test_alpha_infer_vanilla(devnet, models):
    cid = devnet.push("sdk-add", models / "add.onnx")
    alpha = og.Alpha(
        private_key=DEV_KEYS[1],
        rpc_url=devnet.url,
        inference_contract_address=INFERENCE_CONTRACT,
        api_url=devnet.url,
    )
    result = alpha.infer(cid, og.InferenceMode.VANILLA, {"num_input1": [1.0, 2.0, 3.0], "num_input2": 10})
    assert result.transaction_hash
    np.testing.assert_array_equal(result.model_output["num_output1"], np.array([11, 12, 13], dtype=np.float32))


def test_alpha_infer_fractional_inputs(devnet, models):
    cid = devnet.push("sdk-affine", models / "affine.onnx")
    alpha = og.Alpha(
        private_key=DEV_KEYS[2],
        rpc_url=devnet.url,
        inference_contract_address=INFERENCE_CONTRACT,
        api_url=devnet.url,
    )
    result = alpha.infer(cid, og.InferenceMode.VANILLA, {"x": np.array([[0.5, -1.25, 2.0, 0.1]], dtype=np.float32)})
    x = np.array([[0.5, -1.25, 2.0, 0.1]], dtype=np.float32)
    w = np.array([[1, 0], [0, 1], [1, 1], [2, -1]], dtype=np.float32)
    expected = x @ w + np.array([0.5, -0.5], dtype=np.float32)
    np.testing.assert_allclose(result.model_output["y"], expected, rtol=1e-6)
