// SPDX-License-Identifier: MIT
// A contract that runs a model through ogn's inference precompile (0x…F4, OpenGradient's ABI) and keeps the result.
pragma solidity ^0.8.20;

struct Number { int128 value; int128 decimals; }
struct NumberTensor { string name; Number[] values; uint32[] shape; }
struct StringTensor { string name; string[] values; }
struct JsonScalar { string name; string value; }
struct ModelInput { NumberTensor[] numbers; StringTensor[] strings; }
struct ModelOutput { NumberTensor[] numbers; StringTensor[] strings; JsonScalar[] jsons; bool is_simulation_result; }
struct ModelInferenceRequest { uint8 mode; string modelCID; ModelInput input; }

interface InferencePrecompile {
    function runModelInference(ModelInferenceRequest memory request) external returns (ModelOutput memory);
}

contract InferenceCaller {
    InferencePrecompile constant PRECOMPILE = InferencePrecompile(address(0xF4));

    event Inferred(string modelCid, string outputName, int128 firstValue, int128 firstDecimals, uint256 count);

    int128 public lastValue;
    int128 public lastDecimals;
    uint256 public runs;

    /// Runs `modelCid` on one number tensor and records the first value of the first output.
    function infer(string calldata modelCid, string calldata inputName, int128[] calldata values, uint32[] calldata shape)
        external
        returns (int128, int128)
    {
        Number[] memory numbers = new Number[](values.length);
        for (uint256 i = 0; i < values.length; i++) {
            numbers[i] = Number(values[i], 0);
        }
        NumberTensor[] memory tensors = new NumberTensor[](1);
        tensors[0] = NumberTensor(inputName, numbers, shape);
        ModelInput memory input = ModelInput(tensors, new StringTensor[](0));
        ModelOutput memory output = PRECOMPILE.runModelInference(ModelInferenceRequest(0, modelCid, input));
        require(output.numbers.length > 0, "model returned no number tensors");
        NumberTensor memory first = output.numbers[0];
        lastValue = first.values[0].value;
        lastDecimals = first.values[0].decimals;
        runs += 1;
        emit Inferred(modelCid, first.name, lastValue, lastDecimals, first.values.length);
        return (lastValue, lastDecimals);
    }

    /// Always reverts with a reason, to check that clients see it.
    function fail() external pure {
        revert("InferenceCaller: asked to fail");
    }
}
