//! OpenGradient's ABI, exactly as its precompile (`0x…F4`, [`IInferencePrecompile`]) and Inference hub
//! contract ([`IInference`]) declare it — tensors, LLM requests, calls and events — and the conversions between
//! its tensors and [`Tensor`]. Selectors and topics are checked against the ABI files in ogn-chain's tests.
//!
//! ```text
//! ModelInput  = (NumberTensor[] numbers, StringTensor[] strings)
//! ModelOutput = (NumberTensor[] numbers, StringTensor[] strings, JsonScalar[] jsons, bool is_simulation_result)
//! NumberTensor = (string name, Number[] values, uint32[] shape)     // TensorLib.MultiDimensionalNumberTensor
//! Number       = (int128 value, int128 decimals)                    // value × 10^-decimals
//! StringTensor = (string name, string[] values)
//! JsonScalar   = (string name, string value)
//! ```
//! Number tensors become [`TensorData::Decimal`] tensors (exact); string tensors become one-dimensional string
//! tensors (OpenGradient's string tensors carry no shape).

use alloy::sol;

use crate::{
    number::Number,
    tensor::{Tensor, TensorData, TensorError},
};

sol! {
    /// `TensorLib.Number`: `value × 10^-decimals`.
    #[derive(Debug, PartialEq, Eq)]
    struct AbiNumber { int128 value; int128 decimals; }

    /// `TensorLib.MultiDimensionalNumberTensor`.
    #[derive(Debug, PartialEq, Eq)]
    struct NumberTensor { string name; AbiNumber[] values; uint32[] shape; }

    /// `TensorLib.StringTensor`.
    #[derive(Debug, PartialEq, Eq)]
    struct StringTensor { string name; string[] values; }

    /// `TensorLib.JsonScalar`.
    #[derive(Debug, PartialEq, Eq)]
    struct JsonScalar { string name; string value; }

    /// The inputs of one model inference.
    #[derive(Debug, PartialEq, Eq)]
    struct ModelInput { NumberTensor[] numbers; StringTensor[] strings; }

    /// The outputs of one model inference.
    #[derive(Debug, PartialEq, Eq)]
    struct ModelOutput { NumberTensor[] numbers; StringTensor[] strings; JsonScalar[] jsons; bool is_simulation_result; }

    /// The precompile's request: `(uint8 mode, string modelCID, ModelInput input)`.
    #[derive(Debug, PartialEq, Eq)]
    struct ModelInferenceRequest { uint8 mode; string modelCID; ModelInput input; }

    /// An LLM completion request (`runLLMCompletion`).
    #[derive(Debug, PartialEq, Eq)]
    struct LLMCompletionRequest { uint8 mode; string modelCID; string prompt; uint32 max_tokens; string[] stop_sequence; uint32 temperature; }
    /// An LLM completion answer.
    #[derive(Debug, PartialEq, Eq)]
    struct LLMCompletionResponse { string answer; }
    /// A tool call in a chat message.
    #[derive(Debug, PartialEq, Eq)]
    struct ToolCall { string id; string name; string arguments; }
    /// One chat message.
    #[derive(Debug, PartialEq, Eq)]
    struct ChatMessage { string role; string content; string name; string tool_call_id; ToolCall[] tool_calls; }
    /// A tool offered to an LLM.
    #[derive(Debug, PartialEq, Eq)]
    struct ToolDefinition { string description; string name; string parameters; }
    /// An LLM chat request (`runLLMChat`).
    #[derive(Debug, PartialEq, Eq)]
    struct LLMChatRequest { uint8 mode; string modelCID; ChatMessage[] messages; ToolDefinition[] tools; string tool_choice; uint32 max_tokens; string[] stop_sequence; uint32 temperature; }
    /// An LLM chat answer.
    #[derive(Debug, PartialEq, Eq)]
    struct LLMChatResponse { string finish_reason; ChatMessage message; }

    /// The inference precompile at `0x…F4` (`InferencePrecompile.abi`).
    #[derive(Debug, PartialEq, Eq)]
    interface IInferencePrecompile {
        function runModelInference(ModelInferenceRequest request) external returns (ModelOutput);
        function runLLMCompletion(LLMCompletionRequest request) external returns (LLMCompletionResponse);
        function runLLMChat(LLMChatRequest request) external returns (LLMChatResponse);
        event ModelInferenceEvent(string inferenceID, ModelInferenceRequest request, ModelOutput response);
        event LLMCompletionEvent(string inferenceID, LLMCompletionRequest request, LLMCompletionResponse response);
        event LLMChat(string inferenceID, LLMChatRequest request, LLMChatResponse response);
    }

    /// The Inference hub contract (`inference.abi`).
    #[derive(Debug, PartialEq, Eq)]
    interface IInference {
        function run(string modelId, uint8 inferenceMode, ModelInput modelInput) external returns (ModelOutput);
        function runLLMCompletion(LLMCompletionRequest request) external returns (LLMCompletionResponse);
        function runLLMChat(LLMChatRequest request) external returns (LLMChatResponse);
        event InferenceResult(ModelOutput output);
        event LLMCompletionResult(LLMCompletionResponse response);
        event LLMChatResult(LLMChatResponse response);
    }

}

/// Why tensors cannot be expressed in OpenGradient's ABI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    /// A dimension above `uint32` range.
    #[error("tensor `{name}`: dimension {dim} does not fit uint32")]
    DimensionTooLarge {
        /// Tensor name.
        name: String,
        /// The dimension.
        dim: usize,
    },
    /// A string tensor with more than one dimension cannot keep its shape.
    #[error(
        "tensor `{name}`: string tensors are one-dimensional in OpenGradient's ABI (shape {shape:?})"
    )]
    StringShape {
        /// Tensor name.
        name: String,
        /// The shape.
        shape: Vec<usize>,
    },
    /// The tensor itself is invalid.
    #[error(transparent)]
    Tensor(#[from] TensorError),
}

impl From<Number> for AbiNumber {
    fn from(n: Number) -> Self {
        Self { value: n.value, decimals: n.decimals }
    }
}

impl From<AbiNumber> for Number {
    fn from(n: AbiNumber) -> Self {
        Number::new(n.value, n.decimals)
    }
}

impl NumberTensor {
    /// The tensor this ABI value describes. An empty shape with other than one value is read as a vector.
    pub fn to_tensor(&self) -> Result<Tensor, TensorError> {
        let mut shape: Vec<usize> = self.shape.iter().map(|&d| d as usize).collect();
        if shape.is_empty() && self.values.len() != 1 {
            shape = vec![self.values.len()];
        }
        let values = self.values.iter().map(|n| Number::new(n.value, n.decimals)).collect();
        Tensor::new(self.name.clone(), shape, TensorData::Decimal(values))
    }
}

fn abi_shape(tensor: &Tensor) -> Result<Vec<u32>, AbiError> {
    tensor
        .shape
        .iter()
        .map(|&d| {
            u32::try_from(d)
                .map_err(|_| AbiError::DimensionTooLarge { name: tensor.name.clone(), dim: d })
        })
        .collect()
}

impl ModelInput {
    /// The tensors this input carries: numbers as exact decimals, then strings.
    pub fn to_tensors(&self) -> Result<Vec<Tensor>, TensorError> {
        let mut out = Vec::with_capacity(self.numbers.len() + self.strings.len());
        for n in &self.numbers {
            out.push(n.to_tensor()?);
        }
        for s in &self.strings {
            out.push(Tensor::vector(s.name.clone(), TensorData::String(s.values.clone())));
        }
        Ok(out)
    }

    /// The ABI value for these tensors.
    pub fn from_tensors(tensors: &[Tensor]) -> Result<Self, AbiError> {
        let (numbers, strings) = split_tensors(tensors)?;
        Ok(Self { numbers, strings })
    }
}

impl ModelOutput {
    /// The ABI value for a model's outputs; numbers become their shortest exact decimals.
    pub fn from_tensors(tensors: &[Tensor], is_simulation_result: bool) -> Result<Self, AbiError> {
        let (numbers, strings) = split_tensors(tensors)?;
        Ok(Self { numbers, strings, jsons: Vec::new(), is_simulation_result })
    }

    /// The tensors this output carries (JSON scalars become one-element string tensors).
    pub fn to_tensors(&self) -> Result<Vec<Tensor>, TensorError> {
        let mut out = ModelInput { numbers: self.numbers.clone(), strings: self.strings.clone() }
            .to_tensors()?;
        for j in &self.jsons {
            out.push(Tensor::vector(j.name.clone(), TensorData::String(vec![j.value.clone()])));
        }
        Ok(out)
    }
}

fn split_tensors(tensors: &[Tensor]) -> Result<(Vec<NumberTensor>, Vec<StringTensor>), AbiError> {
    let mut numbers = Vec::new();
    let mut strings = Vec::new();
    for t in tensors {
        t.validate()?;
        match &t.data {
            TensorData::String(values) => {
                if t.shape.len() > 1 {
                    return Err(AbiError::StringShape {
                        name: t.name.clone(),
                        shape: t.shape.clone(),
                    });
                }
                strings.push(StringTensor { name: t.name.clone(), values: values.clone() });
            }
            _ => numbers.push(NumberTensor {
                name: t.name.clone(),
                values: t.to_decimal()?.into_iter().map(|n| n.normalized().into()).collect(),
                shape: abi_shape(t)?,
            }),
        }
    }
    Ok((numbers, strings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolValue;
    use proptest::prelude::*;

    #[test]
    fn abi_encoding_round_trip() {
        let x = Tensor::new("x", vec![2, 2], TensorData::F32(vec![1.5, -2.0, 0.1, 3.0])).unwrap();
        let s = Tensor::vector("s", TensorData::String(vec!["hello".into(), " world".into()]));
        let output = ModelOutput::from_tensors(&[x.clone(), s.clone()], true).unwrap();
        let bytes = output.abi_encode();
        let back = ModelOutput::abi_decode(&bytes).unwrap();
        assert_eq!(back, output);
        let tensors = back.to_tensors().unwrap();
        assert_eq!(tensors[0].cast(crate::DType::F32).unwrap(), x);
        assert_eq!(tensors[1], s);
        assert_eq!(output.numbers[0].values[2], AbiNumber { value: 1, decimals: 1 });
    }

    /// Found by the `abi_model_input` fuzz target (regression input `abi-decimals-min`): a number whose
    /// `decimals` is `i128::MIN` overflowed when the decoded tensors were encoded again.
    #[test]
    fn extreme_decimals_survive_a_round_trip() {
        let values = [i128::MIN, i128::MIN + 1, i128::MAX]
            .into_iter()
            .map(|decimals| AbiNumber { value: 10, decimals })
            .collect();
        let input = ModelInput {
            numbers: vec![NumberTensor { name: "x".into(), values, shape: vec![3] }],
            strings: vec![],
        };
        let bytes = input.abi_encode();
        let tensors = ModelInput::abi_decode(&bytes).unwrap().to_tensors().unwrap();
        // Re-encoding normalizes (`10e-MAX` becomes `1e-(MAX-1)`): the same values, and a fixed point after.
        let again = ModelInput::from_tensors(&tensors).unwrap();
        let normalized = again.to_tensors().unwrap();
        assert_eq!(ModelInput::from_tensors(&normalized).unwrap(), again);
        let expected = [(10, i128::MIN), (1, i128::MIN), (1, i128::MAX - 1)]
            .map(|(value, decimals)| AbiNumber { value, decimals });
        assert_eq!(again.numbers[0].values, expected);
    }

    #[test]
    fn rejects_a_shape_that_does_not_match() {
        let bad = NumberTensor {
            name: "x".into(),
            values: vec![AbiNumber { value: 1, decimals: 0 }; 3],
            shape: vec![2, 2],
        };
        assert!(matches!(bad.to_tensor(), Err(TensorError::LengthMismatch { .. })));
        let overflow = NumberTensor { name: "x".into(), values: vec![], shape: vec![u32::MAX; 4] };
        assert!(overflow.to_tensor().is_err());
    }

    proptest! {
        #[test]
        fn input_round_trip(values in proptest::collection::vec((any::<i64>(), 0i128..30), 1..20),
                            strings in proptest::collection::vec(".*", 0..4)) {
            let nums: Vec<Number> = values.iter().map(|&(v, d)| Number::new(v.into(), d)).collect();
            let t = Tensor::vector("n", TensorData::Decimal(nums));
            let s = Tensor::vector("s", TensorData::String(strings));
            let input = ModelInput::from_tensors(&[t.clone(), s.clone()]).unwrap();
            let decoded = ModelInput::abi_decode(&input.abi_encode()).unwrap();
            let back = decoded.to_tensors().unwrap();
            prop_assert_eq!(crate::canonical::encode_tensors(&back), crate::canonical::encode_tensors(&[t, s]));
        }
    }
}
