//! Named, shaped, typed arrays: what goes into a model and what comes out.
//!
//! Elements are stored flat in row-major order next to their shape, as OpenGradient's `NumberTensor` does.
//! [`TensorData::Decimal`] holds exact decimals as clients send them; the runtime casts them to the model's
//! declared type with [`Tensor::cast`], under the rounding rules of [`crate::number`].

use serde::{Deserialize, Serialize};

use crate::number::{Number, NumberError};

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary64.
    F64,
    /// Signed 64-bit integer.
    I64,
    /// Signed 32-bit integer.
    I32,
    /// Signed 8-bit integer.
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Boolean.
    Bool,
    /// Exact decimal ([`Number`]), as OpenGradient clients send numbers.
    Decimal,
    /// UTF-8 string.
    String,
}

impl DType {
    /// One stable byte per type, used by the canonical encoding.
    pub const fn tag(self) -> u8 {
        match self {
            Self::F32 => 1,
            Self::F64 => 2,
            Self::I64 => 3,
            Self::I32 => 4,
            Self::I8 => 5,
            Self::U8 => 6,
            Self::Bool => 7,
            Self::Decimal => 8,
            Self::String => 9,
        }
    }

    /// Lower-case name (`f32`, `i64`, …).
    pub const fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F64 => "f64",
            Self::I64 => "i64",
            Self::I32 => "i32",
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::Bool => "bool",
            Self::Decimal => "decimal",
            Self::String => "string",
        }
    }

    /// Whether the type holds numbers (everything but strings).
    pub const fn is_numeric(self) -> bool {
        !matches!(self, Self::String)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The elements of a tensor, flat, row-major.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum TensorData {
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    I32(Vec<i32>),
    I8(Vec<i8>),
    U8(Vec<u8>),
    Bool(Vec<bool>),
    Decimal(Vec<Number>),
    String(Vec<String>),
}

impl TensorData {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Self::F32(_) => DType::F32,
            Self::F64(_) => DType::F64,
            Self::I64(_) => DType::I64,
            Self::I32(_) => DType::I32,
            Self::I8(_) => DType::I8,
            Self::U8(_) => DType::U8,
            Self::Bool(_) => DType::Bool,
            Self::Decimal(_) => DType::Decimal,
            Self::String(_) => DType::String,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::I32(v) => v.len(),
            Self::I8(v) => v.len(),
            Self::U8(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Decimal(v) => v.len(),
            Self::String(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Why a tensor is malformed or cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TensorError {
    /// The product of the dimensions does not fit in memory's address space.
    #[error("tensor `{name}`: shape {shape:?} has more elements than can be addressed")]
    ShapeOverflow {
        /// Tensor name.
        name: String,
        /// The offending shape.
        shape: Vec<u64>,
    },
    /// The number of elements differs from the product of the shape.
    #[error("tensor `{name}`: shape {shape:?} needs {expected} elements but {got} were given")]
    LengthMismatch {
        /// Tensor name.
        name: String,
        /// The declared shape.
        shape: Vec<usize>,
        /// Product of the shape.
        expected: usize,
        /// Elements present.
        got: usize,
    },
    /// Strings where numbers are needed, or numbers where strings are needed.
    #[error("tensor `{name}`: holds {got} values where {expected} values are expected")]
    WrongKind {
        /// Tensor name.
        name: String,
        /// Type needed.
        expected: DType,
        /// Type present.
        got: DType,
    },
    /// A value that cannot be represented in the target type.
    #[error("tensor `{name}`, element {index}: {source}")]
    Element {
        /// Tensor name.
        name: String,
        /// Flat index of the element.
        index: usize,
        /// What went wrong.
        source: NumberError,
    },
}

/// Product of `shape`, or an error if it overflows `usize`.
pub fn element_count(name: &str, shape: &[usize]) -> Result<usize, TensorError> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d)).ok_or_else(|| {
        TensorError::ShapeOverflow {
            name: name.to_string(),
            shape: shape.iter().map(|&d| d as u64).collect(),
        }
    })
}

/// A named tensor whose element count always equals the product of its shape.
///
/// Its JSON form lives in [`crate::json`] (numbers in JSON cannot carry every `int128`).
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The model input or output this tensor binds to.
    pub name: String,
    /// Dimensions, outermost first. `[]` is a scalar.
    pub shape: Vec<usize>,
    /// Elements, flat, row-major.
    pub data: TensorData,
}

impl Tensor {
    /// A tensor, checking that `data` has `product(shape)` elements.
    pub fn new(
        name: impl Into<String>,
        shape: Vec<usize>,
        data: TensorData,
    ) -> Result<Self, TensorError> {
        let name = name.into();
        let expected = element_count(&name, &shape)?;
        if expected != data.len() {
            return Err(TensorError::LengthMismatch { name, shape, expected, got: data.len() });
        }
        Ok(Self { name, shape, data })
    }

    /// A one-dimensional tensor.
    pub fn vector(name: impl Into<String>, data: TensorData) -> Self {
        let shape = vec![data.len()];
        Self { name: name.into(), shape, data }
    }

    /// Checks the invariant again (for tensors built field by field or deserialized).
    pub fn validate(&self) -> Result<(), TensorError> {
        let expected = element_count(&self.name, &self.shape)?;
        if expected != self.data.len() {
            return Err(TensorError::LengthMismatch {
                name: self.name.clone(),
                shape: self.shape.clone(),
                expected,
                got: self.data.len(),
            });
        }
        Ok(())
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The same tensor with elements of type `dtype`.
    ///
    /// Rules: to a float, correctly rounded (integers above 2^24 / 2^53 round to nearest even); to an integer or
    /// bool, only exact values (no truncation: `2.5` → i64 is an error, as is `300` → i8, as is `2` → bool);
    /// to [`DType::Decimal`], the shortest decimal that reads back as the same float; strings only to strings.
    pub fn cast(&self, dtype: DType) -> Result<Tensor, TensorError> {
        if self.dtype() == dtype {
            return Ok(self.clone());
        }
        let data = match dtype {
            DType::F32 => TensorData::F32(self.to_f32()?),
            DType::F64 => TensorData::F64(self.to_f64()?),
            DType::I64 => TensorData::I64(self.to_i64()?),
            DType::I32 => TensorData::I32(self.to_i32()?),
            DType::I8 => TensorData::I8(self.to_i8()?),
            DType::U8 => TensorData::U8(self.to_u8()?),
            DType::Bool => TensorData::Bool(self.to_bool()?),
            DType::Decimal => TensorData::Decimal(self.to_decimal()?),
            DType::String => return Err(self.wrong_kind(DType::String)),
        };
        Ok(Tensor { name: self.name.clone(), shape: self.shape.clone(), data })
    }

    fn wrong_kind(&self, expected: DType) -> TensorError {
        TensorError::WrongKind { name: self.name.clone(), expected, got: self.dtype() }
    }

    fn element_error(&self, index: usize, source: NumberError) -> TensorError {
        TensorError::Element { name: self.name.clone(), index, source }
    }

    /// Elements as exact decimals.
    pub fn to_decimal(&self) -> Result<Vec<Number>, TensorError> {
        let collect_float = |it: &mut dyn Iterator<Item = Result<Number, NumberError>>| {
            it.enumerate()
                .map(|(i, r)| r.map_err(|e| self.element_error(i, e)))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(match &self.data {
            TensorData::Decimal(v) => v.clone(),
            TensorData::F32(v) => collect_float(&mut v.iter().map(|&x| Number::from_f32(x)))?,
            TensorData::F64(v) => collect_float(&mut v.iter().map(|&x| Number::from_f64(x)))?,
            TensorData::I64(v) => v.iter().map(|&x| Number::from_int(x.into())).collect(),
            TensorData::I32(v) => v.iter().map(|&x| Number::from_int(x.into())).collect(),
            TensorData::I8(v) => v.iter().map(|&x| Number::from_int(x.into())).collect(),
            TensorData::U8(v) => v.iter().map(|&x| Number::from_int(x.into())).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| Number::from_int(x.into())).collect(),
            TensorData::String(_) => return Err(self.wrong_kind(DType::Decimal)),
        })
    }

    /// Elements as f64 (correctly rounded).
    pub fn to_f64(&self) -> Result<Vec<f64>, TensorError> {
        Ok(match &self.data {
            TensorData::F64(v) => v.clone(),
            TensorData::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::I64(v) => v.iter().map(|&x| x as f64).collect(),
            TensorData::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::I8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::U8(v) => v.iter().map(|&x| f64::from(x)).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| f64::from(u8::from(x))).collect(),
            TensorData::Decimal(v) => v
                .iter()
                .enumerate()
                .map(|(i, n)| n.to_f64().map_err(|e| self.element_error(i, e)))
                .collect::<Result<_, _>>()?,
            TensorData::String(_) => return Err(self.wrong_kind(DType::F64)),
        })
    }

    /// Elements as f32 (correctly rounded; decimals are rounded once, directly to f32).
    pub fn to_f32(&self) -> Result<Vec<f32>, TensorError> {
        Ok(match &self.data {
            TensorData::F32(v) => v.clone(),
            // `as` rounds to nearest, ties to even; out-of-range finite values become ±∞, which we refuse.
            TensorData::F64(v) => v
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    let y = x as f32;
                    if x.is_finite() && !y.is_finite() {
                        Err(self.element_error(i, NumberError::OutOfRange(x.to_string(), "f32")))
                    } else {
                        Ok(y)
                    }
                })
                .collect::<Result<_, _>>()?,
            TensorData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::I32(v) => v.iter().map(|&x| x as f32).collect(),
            TensorData::I8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            TensorData::U8(v) => v.iter().map(|&x| f32::from(x)).collect(),
            TensorData::Bool(v) => v.iter().map(|&x| f32::from(u8::from(x))).collect(),
            TensorData::Decimal(v) => v
                .iter()
                .enumerate()
                .map(|(i, n)| n.to_f32().map_err(|e| self.element_error(i, e)))
                .collect::<Result<_, _>>()?,
            TensorData::String(_) => return Err(self.wrong_kind(DType::F32)),
        })
    }

    fn to_integer<T>(&self, target: DType) -> Result<Vec<T>, TensorError>
    where
        T: TryFrom<i128>,
    {
        let decimals = self.to_decimal().map_err(|e| match e {
            TensorError::WrongKind { name, got, .. } => {
                TensorError::WrongKind { name, expected: target, got }
            }
            other => other,
        })?;
        decimals
            .iter()
            .enumerate()
            .map(|(i, n)| n.to_int::<T>(target.name()).map_err(|e| self.element_error(i, e)))
            .collect()
    }

    /// Elements as i64, exact or an error.
    pub fn to_i64(&self) -> Result<Vec<i64>, TensorError> {
        match &self.data {
            TensorData::I64(v) => Ok(v.clone()),
            _ => self.to_integer(DType::I64),
        }
    }

    /// Elements as i32, exact or an error.
    pub fn to_i32(&self) -> Result<Vec<i32>, TensorError> {
        self.to_integer(DType::I32)
    }

    /// Elements as i8, exact or an error.
    pub fn to_i8(&self) -> Result<Vec<i8>, TensorError> {
        self.to_integer(DType::I8)
    }

    /// Elements as u8, exact or an error.
    pub fn to_u8(&self) -> Result<Vec<u8>, TensorError> {
        self.to_integer(DType::U8)
    }

    /// Elements as bools: only 0 and 1 are accepted.
    pub fn to_bool(&self) -> Result<Vec<bool>, TensorError> {
        if let TensorData::Bool(v) = &self.data {
            return Ok(v.clone());
        }
        let ints: Vec<u8> = self.to_integer(DType::Bool)?;
        ints.iter()
            .enumerate()
            .map(|(i, &x)| match x {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(self.element_error(i, NumberError::OutOfRange(x.to_string(), "bool"))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn shape_is_checked() {
        assert!(Tensor::new("x", vec![2, 3], TensorData::F32(vec![0.0; 6])).is_ok());
        assert!(matches!(
            Tensor::new("x", vec![2, 3], TensorData::F32(vec![0.0; 5])),
            Err(TensorError::LengthMismatch { expected: 6, got: 5, .. })
        ));
        let err = Tensor::new("x", vec![usize::MAX, 2], TensorData::F32(vec![])).unwrap_err();
        assert!(matches!(err, TensorError::ShapeOverflow { .. }));
        assert!(err.to_string().contains("`x`"));
        // A scalar has one element.
        assert!(Tensor::new("s", vec![], TensorData::I64(vec![7])).is_ok());
    }

    #[test]
    fn casts_refuse_to_lose_information() {
        let t = Tensor::vector("x", TensorData::Decimal(vec![Number::new(25, 1)]));
        let err = t.cast(DType::I64).unwrap_err();
        assert_eq!(err.to_string(), "tensor `x`, element 0: 2.5 is not an integer");
        let t = Tensor::vector("x", TensorData::I64(vec![300]));
        assert!(t.cast(DType::I8).is_err());
        assert!(t.cast(DType::Bool).is_err());
        let s = Tensor::vector("s", TensorData::String(vec!["a".into()]));
        assert_eq!(
            s.cast(DType::F32).unwrap_err().to_string(),
            "tensor `s`: holds string values where f32 values are expected"
        );
        let big = Tensor::vector("b", TensorData::F64(vec![1e300]));
        assert!(big.cast(DType::F32).is_err());
    }

    fn numeric_data() -> impl Strategy<Value = TensorData> {
        prop_oneof![
            proptest::collection::vec(any::<f32>().prop_filter("finite", |x| x.is_finite()), 0..16)
                .prop_map(TensorData::F32),
            proptest::collection::vec(any::<f64>().prop_filter("finite", |x| x.is_finite()), 0..16)
                .prop_map(TensorData::F64),
            proptest::collection::vec(any::<i64>(), 0..16).prop_map(TensorData::I64),
            proptest::collection::vec(any::<i32>(), 0..16).prop_map(TensorData::I32),
            proptest::collection::vec(any::<i8>(), 0..16).prop_map(TensorData::I8),
            proptest::collection::vec(any::<u8>(), 0..16).prop_map(TensorData::U8),
            proptest::collection::vec(any::<bool>(), 0..16).prop_map(TensorData::Bool),
        ]
    }

    fn same_bits(a: &TensorData, b: &TensorData) -> bool {
        // Zero's sign is not kept by decimals; compare -0.0 and 0.0 as equal, everything else bit for bit.
        match (a, b) {
            (TensorData::F32(x), TensorData::F32(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|(p, q)| p.to_bits() == q.to_bits() || *p == 0.0 && *q == 0.0)
            }
            (TensorData::F64(x), TensorData::F64(y)) => {
                x.len() == y.len()
                    && x.iter()
                        .zip(y)
                        .all(|(p, q)| p.to_bits() == q.to_bits() || *p == 0.0 && *q == 0.0)
            }
            _ => a == b,
        }
    }

    proptest! {
        #[test]
        fn decimal_round_trip_is_exact(data in numeric_data()) {
            let t = Tensor::vector("t", data);
            let back = t.cast(DType::Decimal).unwrap().cast(t.dtype()).unwrap();
            prop_assert!(same_bits(&back.data, &t.data), "{:?} vs {:?}", back.data, t.data);
        }

        #[test]
        fn integer_casts_round_trip_through_f64(v in proptest::collection::vec(any::<i32>(), 0..16)) {
            let t = Tensor::vector("t", TensorData::I32(v));
            prop_assert_eq!(t.cast(DType::F64).unwrap().cast(DType::I32).unwrap(), t);
        }

        #[test]
        fn overflowing_shapes_never_panic(shape in proptest::collection::vec(any::<usize>(), 0..6)) {
            let _ = element_count("t", &shape);
            let _ = Tensor::new("t", shape, TensorData::U8(vec![]));
        }
    }
}
