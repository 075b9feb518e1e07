//! Verification modes and their one-byte encoding, compatible with OpenGradient's mode byte.
//!
//! | byte | mode | meaning |
//! |---|---|---|
//! | `0` | VANILLA | one operator, its signature (OpenGradient's VANILLA) |
//! | `1` | ZKML | a proof of inference (OpenGradient's ZKML): ogn-zk proves int8 models in pre-execution, validators verify the proof at block execution (ogn-chain's inference precompile) |
//! | `2` | TEE | an enclave signature (OpenGradient's TEE) — refused until TEE attestation exists |
//! | `3` | SAMPLING | one operator; with probability p (quoted, ≥ 5 %) a verifier re-executes |
//! | `4` | REPLICAS 3 | three independent operators must agree |
//! | `0x10 + k` (k = 2…15) | REPLICAS k | k independent operators must agree |
//! | `0x80 + n` (n = 1…100) | SAMPLING, p ≥ n % | as `3` with the floor of p raised (or lowered) to n % |

use serde::{Deserialize, Serialize};

/// How a job's result is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Mode {
    /// One operator, its signature.
    Vanilla,
    /// One operator; a verifier re-executes with a probability of at least `floor_ppm`.
    Sampling {
        /// Lowest sampling probability accepted, parts per million.
        floor_ppm: u64,
    },
    /// `k` independent operators must agree.
    Replicas {
        /// Number of operators.
        k: u8,
    },
    /// A proof of inference.
    Zkml,
    /// An enclave signature.
    Tee,
}

/// Default floor of the sampling probability (5 %).
pub const DEFAULT_SAMPLING_FLOOR_PPM: u64 = 50_000;

/// Why a mode byte is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Not a defined byte.
    #[error("unknown verification mode byte {0:#04x} (see ogn-verify's mode table)")]
    Unknown(u8),
    /// Defined but not served.
    #[error(
        "{0} mode is not served yet: validators do not check {1}; use VANILLA (0), SAMPLING (3) or REPLICAS (4)"
    )]
    NotServed(&'static str, &'static str),
}

impl Mode {
    /// Decodes a mode byte.
    pub fn from_byte(b: u8) -> Result<Self, ModeError> {
        Ok(match b {
            0 => Mode::Vanilla,
            1 => Mode::Zkml,
            2 => Mode::Tee,
            3 => Mode::Sampling { floor_ppm: DEFAULT_SAMPLING_FLOOR_PPM },
            4 => Mode::Replicas { k: 3 },
            0x12..=0x1f => Mode::Replicas { k: b - 0x10 },
            0x81..=0xe4 => Mode::Sampling { floor_ppm: u64::from(b - 0x80) * 10_000 },
            _ => return Err(ModeError::Unknown(b)),
        })
    }

    /// Decodes a mode byte and refuses modes the network does not serve (TEE, until attestations
    /// are checked).
    pub fn served(b: u8) -> Result<Self, ModeError> {
        match Self::from_byte(b)? {
            Mode::Tee => Err(ModeError::NotServed("TEE", "enclave attestations")),
            m => Ok(m),
        }
    }

    /// The canonical byte of this mode.
    pub fn to_byte(self) -> u8 {
        match self {
            Mode::Vanilla => 0,
            Mode::Zkml => 1,
            Mode::Tee => 2,
            Mode::Sampling { floor_ppm: DEFAULT_SAMPLING_FLOOR_PPM } => 3,
            Mode::Sampling { floor_ppm } => 0x80 + (floor_ppm / 10_000).clamp(1, 100) as u8,
            Mode::Replicas { k: 3 } => 4,
            Mode::Replicas { k } => 0x10 + k.clamp(2, 15),
        }
    }

    /// Operators that execute the job up front.
    pub fn executors(self) -> usize {
        match self {
            Mode::Replicas { k } => usize::from(k),
            _ => 1,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mode::Vanilla => f.write_str("VANILLA"),
            Mode::Sampling { .. } => f.write_str("SAMPLING"),
            Mode::Replicas { k } => write!(f, "REPLICAS {k}"),
            Mode::Zkml => f.write_str("ZKML"),
            Mode::Tee => f.write_str("TEE"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_defined_byte_round_trips() {
        let mut defined = 0;
        for b in 0..=255u8 {
            if let Ok(m) = Mode::from_byte(b) {
                defined += 1;
                assert_eq!(Mode::from_byte(m.to_byte()), Ok(m), "byte {b:#x}");
            }
        }
        assert_eq!(defined, 5 + 14 + 100);
        assert_eq!(Mode::from_byte(0), Ok(Mode::Vanilla));
        assert_eq!(Mode::served(1), Ok(Mode::Zkml));
        assert!(matches!(Mode::served(2), Err(ModeError::NotServed(..))));
        assert_eq!(Mode::from_byte(5), Err(ModeError::Unknown(5)));
    }
}
