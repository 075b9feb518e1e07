//! What a model takes and returns, read from the ONNX file itself.

use std::fmt;

use ogn_types::DType;
use serde::Serialize;
use tract_onnx::pb;
use tract_onnx::pb::tensor_shape_proto::dimension::Value as DimValue;

use crate::RuntimeError;

/// One dimension of a declared shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A size chosen by the caller, by its symbol (`N`, `height`, …). `?` is an anonymous symbol: each
    /// `?` is free on its own, while dimensions that share a name must be equal.
    Symbolic(String),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Symbolic(s) => f.write_str(s),
        }
    }
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    /// Name in the graph; inputs are matched by it and outputs carry it.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Declared shape, outermost first.
    pub shape: Vec<Dim>,
}

impl TensorInfo {
    /// The shape as text, e.g. `N,3,?,?`.
    pub fn shape_string(&self) -> String {
        self.shape.iter().map(Dim::to_string).collect::<Vec<_>>().join(",")
    }
}

/// What a model takes and returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelInfo {
    /// Graph inputs (initializers excluded), in graph order.
    pub inputs: Vec<TensorInfo>,
    /// Graph outputs, in graph order.
    pub outputs: Vec<TensorInfo>,
    /// Version of the default ONNX operator set the model imports.
    pub opset: i64,
    /// `producer_name` of the file, when set.
    pub producer: String,
}

/// Decodes the protobuf, telling "not ONNX" from "damaged ONNX".
pub(crate) fn decode(bytes: &[u8]) -> Result<pb::ModelProto, RuntimeError> {
    use tract_onnx::prelude::Framework;
    let proto = tract_onnx::onnx().proto_model_for_read(&mut &*bytes).map_err(|e| {
        let reason = crate::error::chain(&e);
        // Every ONNX writer starts with field 1 (`ir_version`, a varint): tag byte 0x08.
        if bytes.first() == Some(&0x08) {
            RuntimeError::Corrupt { reason }
        } else {
            RuntimeError::NotOnnx { reason: format!("not a protobuf ModelProto ({reason})") }
        }
    })?;
    if proto.ir_version <= 0 {
        return Err(RuntimeError::NotOnnx { reason: "no ONNX IR version".into() });
    }
    match &proto.graph {
        Some(g) if !g.node.is_empty() || !g.output.is_empty() => Ok(proto),
        _ => Err(RuntimeError::NotOnnx { reason: "no graph".into() }),
    }
}

/// Inputs, outputs and opset of a decoded model.
pub(crate) fn model_info(proto: &pb::ModelProto) -> Result<ModelInfo, RuntimeError> {
    let graph = proto.graph.as_ref().ok_or(RuntimeError::NotOnnx { reason: "no graph".into() })?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs = graph
        .input
        .iter()
        .filter(|v| !initializers.contains(v.name.as_str()))
        .map(|v| tensor_info(v, "input"))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs =
        graph.output.iter().map(|v| tensor_info(v, "output")).collect::<Result<Vec<_>, _>>()?;
    let opset = proto
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .unwrap_or(0);
    Ok(ModelInfo { inputs, outputs, opset, producer: proto.producer_name.clone() })
}

fn tensor_info(v: &pb::ValueInfoProto, role: &'static str) -> Result<TensorInfo, RuntimeError> {
    let Some(pb::type_proto::Value::TensorType(t)) =
        v.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(RuntimeError::UnsupportedType {
            role,
            name: v.name.clone(),
            onnx_type: "non-tensor".into(),
        });
    };
    let dtype = dtype_of(t.elem_type).ok_or_else(|| RuntimeError::UnsupportedType {
        role,
        name: v.name.clone(),
        onnx_type: pb::tensor_proto::DataType::try_from(t.elem_type)
            .map(|d| format!("{d:?}"))
            .unwrap_or_else(|_| t.elem_type.to_string()),
    })?;
    let shape = t
        .shape
        .as_ref()
        .map(|s| {
            s.dim
                .iter()
                .map(|d| match &d.value {
                    Some(DimValue::DimValue(n)) if *n >= 0 => Dim::Fixed(*n as usize),
                    Some(DimValue::DimParam(p)) if !p.is_empty() => Dim::Symbolic(p.clone()),
                    _ => Dim::Symbolic("?".into()),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(TensorInfo { name: v.name.clone(), dtype, shape })
}

/// ogn element type of an ONNX `TensorProto.DataType`.
fn dtype_of(elem_type: i32) -> Option<DType> {
    use pb::tensor_proto::DataType as T;
    Some(match T::try_from(elem_type).ok()? {
        T::Float => DType::F32,
        T::Double => DType::F64,
        T::Int64 => DType::I64,
        T::Int32 => DType::I32,
        T::Int8 => DType::I8,
        T::Uint8 => DType::U8,
        T::Bool => DType::Bool,
        T::String => DType::String,
        _ => return None,
    })
}

/// Refuses what the engine must never see: operators it lacks, data stored outside the file.
pub(crate) fn check_supported(proto: &pb::ModelProto) -> Result<(), RuntimeError> {
    let graph = proto.graph.as_ref().ok_or(RuntimeError::NotOnnx { reason: "no graph".into() })?;
    let known = &tract_onnx::onnx().op_register.0;
    check_graph(graph, known)
}

fn check_graph<V>(
    graph: &pb::GraphProto,
    known: &std::collections::HashMap<String, V>,
) -> Result<(), RuntimeError> {
    for t in &graph.initializer {
        if t.data_location == Some(pb::tensor_proto::DataLocation::External as i32) {
            return Err(RuntimeError::ExternalData { tensor: t.name.clone() });
        }
    }
    for node in &graph.node {
        let default_domain = node.domain.is_empty() || node.domain == "ai.onnx";
        if !known.contains_key(&node.op_type) || !default_domain && !known_domain(&node.domain) {
            let op = if default_domain {
                node.op_type.clone()
            } else {
                format!("{}.{}", node.domain, node.op_type)
            };
            let node = if node.name.is_empty() {
                node.output.first().cloned().unwrap_or_default()
            } else {
                node.name.clone()
            };
            return Err(RuntimeError::UnsupportedOperator { op, node });
        }
        for attr in &node.attribute {
            for g in attr.g.iter().chain(attr.graphs.iter()) {
                check_graph(g, known)?;
            }
        }
    }
    Ok(())
}

/// Non-default domains whose operators tract registers under their plain names.
fn known_domain(domain: &str) -> bool {
    domain == "ai.onnx.ml"
}

/// An element type in the engine's terms.
pub(crate) fn datum_type(dtype: DType) -> tract_onnx::prelude::DatumType {
    use tract_onnx::prelude::DatumType as D;
    match dtype {
        DType::F32 | DType::Decimal => D::F32,
        DType::F64 => D::F64,
        DType::I64 => D::I64,
        DType::I32 => D::I32,
        DType::I8 => D::I8,
        DType::U8 => D::U8,
        DType::Bool => D::Bool,
        DType::String => D::String,
    }
}
