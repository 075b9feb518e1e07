//! OpenGradient's exact decimal number: `value × 10^-decimals`, both `int128`.
//!
//! Rounding rules (the same everywhere in ogn):
//! - float → [`Number`]: the shortest decimal that reads back as the same float (what Python's
//!   `Decimal(str(x))` gives for an f64, which is what OpenGradient's SDK sends). Exact round trip.
//! - [`Number`] → float: correctly rounded, to nearest, ties to even (no double rounding).
//! - [`Number`] → integer: only when the value is an integer in range; otherwise an error.
//! - NaN and ±∞ have no [`Number`]; converting one is an error.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Why a number could not be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// NaN or infinity.
    #[error("{0} has no exact decimal form")]
    NotFinite(String),
    /// The value does not fit the target.
    #[error("{0} is out of range for {1}")]
    OutOfRange(String, &'static str),
    /// The value has a fractional part where an integer is needed.
    #[error("{0} is not an integer")]
    NotInteger(String),
    /// Text that is not a decimal number.
    #[error("`{0}` is not a decimal number")]
    Syntax(String),
}

/// An exact decimal: `value × 10^-decimals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Number {
    /// The digits, with sign.
    pub value: i128,
    /// How many places the decimal point moves left (negative: right).
    pub decimals: i128,
}

/// `10^exp` when it fits an i128 (exp ≤ 38).
fn pow10(exp: u32) -> Option<i128> {
    10i128.checked_pow(exp)
}

impl Number {
    /// A number from its parts.
    pub const fn new(value: i128, decimals: i128) -> Self {
        Self { value, decimals }
    }

    /// An integer.
    pub const fn from_int(value: i128) -> Self {
        Self { value, decimals: 0 }
    }

    /// The shortest decimal that reads back as `x`.
    pub fn from_f64(x: f64) -> Result<Self, NumberError> {
        if !x.is_finite() {
            return Err(NumberError::NotFinite(x.to_string()));
        }
        // `{:e}` prints the shortest round-trip digits, e.g. `1.25e-7`.
        format!("{x:e}").parse()
    }

    /// The shortest decimal that reads back as `x` (as an f32, so `0.1f32` is `0.1`, not `0.100000001…`).
    pub fn from_f32(x: f32) -> Result<Self, NumberError> {
        if !x.is_finite() {
            return Err(NumberError::NotFinite(x.to_string()));
        }
        format!("{x:e}").parse()
    }

    /// The same value in its one canonical form: zero is `(0, 0)`; otherwise no trailing zeros after the point;
    /// an integer has `decimals == 0` when it fits an i128, and otherwise its shortest digits with negative
    /// `decimals` (`1e300` is `(1, -300)`).
    pub fn normalized(self) -> Self {
        let (mut value, mut decimals) = (self.value, self.decimals);
        if value == 0 {
            return Self::new(0, 0);
        }
        while decimals > 0 && value % 10 == 0 {
            value /= 10;
            decimals -= 1;
        }
        if decimals < 0 {
            // `unsigned_abs`, not negation: `decimals` comes from outside (ABI) and may be `i128::MIN`.
            let scaled = u32::try_from(decimals.unsigned_abs())
                .ok()
                .and_then(pow10)
                .and_then(|p| value.checked_mul(p));
            if let Some(v) = scaled {
                return Self::new(v, 0);
            }
            // Where `decimals` cannot go lower, the trailing zeros stay: still one form per (value, decimals).
            while value % 10 == 0 {
                let Some(lower) = decimals.checked_sub(1) else { break };
                value /= 10;
                decimals = lower;
            }
        }
        Self::new(value, decimals)
    }

    /// Correctly rounded f64. Values beyond f64's range are an error; tiny values round to zero.
    pub fn to_f64(self) -> Result<f64, NumberError> {
        self.to_float::<f64>("f64")
    }

    /// Correctly rounded f32 (directly from the decimal, not through f64). Values beyond f32's range are an error.
    pub fn to_f32(self) -> Result<f32, NumberError> {
        self.to_float::<f32>("f32")
    }

    fn to_float<F>(self, target: &'static str) -> Result<F, NumberError>
    where
        F: FromStr + Copy + Into<f64>,
    {
        let n = self.normalized();
        // |value| < 10^39, so past these bounds the result is certainly 0 or certainly infinite; the bounds also
        // keep the exponent string short.
        if n.decimals > 400 {
            return "0".parse::<F>().map_err(|_| NumberError::Syntax(n.to_string()));
        }
        if n.decimals < -400 {
            return Err(NumberError::OutOfRange(n.to_string(), target));
        }
        let text = format!("{}e{}", n.value, -n.decimals);
        let x: F = text.parse().map_err(|_| NumberError::Syntax(text.clone()))?;
        if !x.into().is_finite() {
            return Err(NumberError::OutOfRange(n.to_string(), target));
        }
        Ok(x)
    }

    /// The exact integer, if the value is one.
    pub fn to_i128(self) -> Result<i128, NumberError> {
        let n = self.normalized();
        if n.decimals > 0 {
            return Err(NumberError::NotInteger(n.to_string()));
        }
        if n.decimals < 0 {
            // Normalization already multiplied as far as an i128 allows.
            return Err(NumberError::OutOfRange(n.to_string(), "i128"));
        }
        Ok(n.value)
    }

    /// The exact integer converted to `T`, if the value is one and fits.
    pub fn to_int<T: TryFrom<i128>>(self, target: &'static str) -> Result<T, NumberError> {
        let v = self.to_i128()?;
        T::try_from(v).map_err(|_| NumberError::OutOfRange(self.to_string(), target))
    }
}

/// Most zeros [`Number`]'s display writes between the point and the first digit; past them it writes
/// `{digits}e-{decimals}` (which parses back the same).
const MAX_LEADING_ZEROS: usize = 40;

impl fmt::Display for Number {
    /// Exact decimal text: `-1.25`, `100`, `0.001`, or `5e40` when `decimals` is negative.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.normalized();
        if n.decimals < 0 {
            return write!(f, "{}e{}", n.value, n.decimals.unsigned_abs());
        }
        let sign = if n.value < 0 { "-" } else { "" };
        let digits = n.value.unsigned_abs().to_string();
        let places = usize::try_from(n.decimals).unwrap_or(usize::MAX);
        if places == 0 {
            write!(f, "{sign}{digits}")
        } else if places > digits.len() + MAX_LEADING_ZEROS {
            // Far below one: the exponent form, so that a tiny number typed as `1e-9000000000` prints
            // short instead of as billions of zeros.
            write!(f, "{sign}{digits}e-{places}")
        } else if digits.len() > places {
            let (int, frac) = digits.split_at(digits.len() - places);
            write!(f, "{sign}{int}.{frac}")
        } else {
            write!(f, "{sign}0.{}{digits}", "0".repeat(places - digits.len()))
        }
    }
}

impl FromStr for Number {
    type Err = NumberError;

    /// Parses `-12.5`, `3`, `1e-7`, `2.5E+3` exactly. Up to 38 significant digits.
    fn from_str(text: &str) -> Result<Self, NumberError> {
        let syntax = || NumberError::Syntax(text.chars().take(80).collect());
        let (mantissa, exponent) = match text.find(['e', 'E']) {
            Some(i) => (&text[..i], text[i + 1..].parse::<i64>().map_err(|_| syntax())?),
            None => (text, 0),
        };
        let (negative, unsigned) = match mantissa.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, mantissa.strip_prefix('+').unwrap_or(mantissa)),
        };
        let (int_part, frac_part) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int_part.is_empty() && frac_part.is_empty()
            || !all_digits(int_part)
            || !all_digits(frac_part)
        {
            return Err(syntax());
        }
        let mut digits = format!("{int_part}{frac_part}");
        let mut decimals =
            i128::try_from(frac_part.len()).map_err(|_| syntax())? - i128::from(exponent);
        // Trailing zeros carry no information; dropping them keeps long inputs like `1.000…0` in range.
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
            decimals -= 1;
        }
        let trimmed = digits.trim_start_matches('0');
        let magnitude: i128 = if trimmed.is_empty() {
            0
        } else {
            trimmed
                .parse()
                .map_err(|_| NumberError::OutOfRange(text.to_string(), "int128 digits"))?
        };
        let value = if negative { -magnitude } else { magnitude };
        Ok(Self::new(value, decimals).normalized())
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Self {
        Self::from_int(v.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Found by the `number_and_cid` fuzz target: a huge negative exponent parsed, then printing it
    /// wrote one zero per unit of exponent (out of memory).
    #[test]
    fn a_tiny_number_prints_short_and_reads_back() {
        let n: Number = "09003e-8990000000".parse().unwrap();
        assert_eq!(n, Number::new(9003, 8_990_000_000));
        let text = n.to_string();
        assert_eq!(text, "9003e-8990000000");
        assert_eq!(text.parse::<Number>().unwrap(), n);
        assert_eq!(n.to_f32().unwrap(), 0.0);
        let small = Number::new(-5, 41);
        assert_eq!(small.to_string(), "-0.00000000000000000000000000000000000000005");
        assert_eq!(Number::new(-5, 42).to_string(), "-5e-42");
        assert_eq!("-5e-42".parse::<Number>().unwrap(), Number::new(-5, 42));
    }

    /// Found by the `abi_model_input` fuzz target: an ABI number with `decimals == i128::MIN` overflowed
    /// when normalized (negation) and when printed.
    #[test]
    fn extreme_decimals_from_abi_do_not_overflow() {
        for decimals in [i128::MIN, i128::MIN + 1, i128::MAX] {
            for value in [1, -1, 10, 1000, i128::MIN, i128::MAX] {
                let n = Number::new(value, decimals).normalized();
                assert_eq!(n.normalized(), n);
                let _ = n.to_string();
                let _ = n.to_f64();
                let _ = n.to_i128();
            }
        }
        assert_eq!(Number::new(10, i128::MIN).normalized(), Number::new(10, i128::MIN));
        assert_eq!(Number::new(10, i128::MIN + 1).normalized(), Number::new(1, i128::MIN));
        assert_eq!(
            Number::new(-3, i128::MIN).to_string(),
            format!("-3e{}", i128::MIN.unsigned_abs())
        );
        assert!(Number::new(1, i128::MIN).to_f64().is_err());
    }

    #[test]
    fn examples() {
        assert_eq!(Number::from_f64(1.5).unwrap(), Number::new(15, 1));
        assert_eq!(Number::from_f64(-0.001).unwrap(), Number::new(-1, 3));
        assert_eq!(Number::from_f64(100.0).unwrap(), Number::new(100, 0));
        assert_eq!(Number::from_f32(0.1).unwrap(), Number::new(1, 1));
        assert_eq!(Number::from_f64(1e300).unwrap(), Number::new(1, -300));
        assert_eq!(Number::new(1500, 3).to_string(), "1.5");
        assert_eq!(Number::new(-5, 4).to_string(), "-0.0005");
        assert_eq!("1.2500".parse::<Number>().unwrap(), Number::new(125, 2));
        assert_eq!("2.5E+3".parse::<Number>().unwrap(), Number::new(2500, 0));
        assert!(Number::from_f64(f64::NAN).is_err());
        assert!("1.2.3".parse::<Number>().is_err());
        assert!("".parse::<Number>().is_err());
        assert!("-".parse::<Number>().is_err());
        assert!("abc".parse::<Number>().is_err());
        assert_eq!(
            Number::new(25, 1).to_int::<i64>("i64"),
            Err(NumberError::NotInteger("2.5".into()))
        );
        assert_eq!(
            Number::new(300, 0).to_int::<i8>("i8"),
            Err(NumberError::OutOfRange("300".into(), "i8"))
        );
        assert_eq!(
            Number::new(1, -400).to_f32(),
            Err(NumberError::OutOfRange("1e400".into(), "f32"))
        );
        assert_eq!(Number::new(1, i128::MAX).to_f64().unwrap(), 0.0);
    }

    #[test]
    fn decimal_to_f32_is_not_double_rounded() {
        // 1 + 2^-24 + 2^-60 lies just above the f32 midpoint 1 + 2^-24: correct rounding goes up, while rounding
        // to f64 first would land exactly on the midpoint and then tie to even (down).
        let exact = "1.00000005960464477539930799592725";
        let n: Number = exact.parse().unwrap();
        assert_eq!(n.to_f32().unwrap(), 1.000_000_1_f32);
    }

    proptest! {
        #[test]
        fn f64_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
            let n = Number::from_f64(x).unwrap();
            prop_assert_eq!(n.to_f64().unwrap().to_bits(), if x == 0.0 { 0.0f64.to_bits() } else { x.to_bits() });
            prop_assert_eq!(n.to_string().parse::<Number>().unwrap(), n);
        }

        #[test]
        fn f32_round_trip(x in any::<f32>().prop_filter("finite", |x| x.is_finite())) {
            let n = Number::from_f32(x).unwrap();
            prop_assert_eq!(n.to_f32().unwrap().to_bits(), if x == 0.0 { 0.0f32.to_bits() } else { x.to_bits() });
        }

        #[test]
        fn int_round_trip(v in any::<i64>()) {
            let n = Number::from(v);
            prop_assert_eq!(n.to_int::<i64>("i64").unwrap(), v);
            prop_assert_eq!(n.to_string().parse::<Number>().unwrap(), n);
        }

        #[test]
        fn normalization_keeps_value(value in any::<i64>(), decimals in -20i128..20) {
            let n = Number::new(value.into(), decimals);
            let m = n.normalized();
            prop_assert_eq!(m.normalized(), m);
            prop_assert_eq!(n.to_f64().ok(), m.to_f64().ok());
            prop_assert_eq!(n.to_string(), m.to_string());
        }
    }
}
