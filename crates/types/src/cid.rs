//! Model ids: the CIDv1 of a file's bytes (codec `raw` 0x55, multihash sha2-256 0x12), printed in base32.
//!
//! This equals the IPFS CID of the same bytes only when IPFS stores them as a single raw block (files up to
//! the IPFS chunk size, 256 KiB by default, added with `--raw-leaves --cid-version 1`); larger files get a
//! different, DAG-shaped CID on IPFS. ogn always hashes the whole file as one block.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// Multicodec code of `raw` bytes.
const RAW_CODEC: u64 = 0x55;
/// Multihash code of sha2-256.
const SHA2_256: u64 = 0x12;

/// Why a string is not a model id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidError {
    /// Not a CID at all.
    #[error("`{input}` is not a CID: {reason}")]
    Malformed {
        /// What was given (truncated to 80 characters).
        input: String,
        /// What the parser said.
        reason: String,
    },
    /// A CID, but not the kind ogn uses for model files.
    #[error(
        "`{input}` is a CID but not a model id: {reason} (expected CIDv1, codec raw, sha2-256)"
    )]
    WrongKind {
        /// What was given.
        input: String,
        /// What differs.
        reason: String,
    },
}

/// The id of a model file: CIDv1, codec raw, sha2-256 of its bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelCid {
    digest: [u8; 32],
}

impl ModelCid {
    /// The id of these bytes.
    pub fn for_bytes(bytes: &[u8]) -> Self {
        Self { digest: Sha256::digest(bytes).into() }
    }

    /// The id of bytes whose sha2-256 digest was computed elsewhere (e.g. while streaming).
    pub fn from_sha256(digest: [u8; 32]) -> Self {
        Self { digest }
    }

    /// The sha2-256 digest of the file's bytes.
    pub fn sha256(&self) -> [u8; 32] {
        self.digest
    }

    /// Whether `bytes` are the bytes this id names.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        Self::for_bytes(bytes) == *self
    }

    /// The binary CID (version, codec, multihash), as stored in canonical encodings.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_cid().to_bytes()
    }

    fn to_cid(self) -> cid::Cid {
        let hash = multihash::Multihash::<64>::wrap(SHA2_256, &self.digest)
            .expect("a 32-byte digest fits a 64-byte multihash");
        cid::Cid::new_v1(RAW_CODEC, hash)
    }
}

impl fmt::Display for ModelCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.to_cid(), f)
    }
}

impl fmt::Debug for ModelCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelCid({self})")
    }
}

impl FromStr for ModelCid {
    type Err = CidError;

    fn from_str(input: &str) -> Result<Self, CidError> {
        let shown: String = input.chars().take(80).collect();
        let parsed = cid::Cid::try_from(input)
            .map_err(|e| CidError::Malformed { input: shown.clone(), reason: e.to_string() })?;
        let wrong = |reason: String| CidError::WrongKind { input: shown.clone(), reason };
        if parsed.version() != cid::Version::V1 {
            return Err(wrong("version 0".into()));
        }
        if parsed.codec() != RAW_CODEC {
            return Err(wrong(format!("codec 0x{:x}", parsed.codec())));
        }
        let hash = parsed.hash();
        if hash.code() != SHA2_256 {
            return Err(wrong(format!("hash 0x{:x}", hash.code())));
        }
        let digest: [u8; 32] =
            hash.digest().try_into().map_err(|_| wrong("digest is not 32 bytes".into()))?;
        Ok(Self { digest })
    }
}

impl Serialize for ModelCid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ModelCid {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_vector_matches_ipfs() {
        // `echo -n hello | ipfs add --raw-leaves --cid-version 1` prints this CID.
        let cid = ModelCid::for_bytes(b"hello");
        assert_eq!(cid.to_string(), "bafkreibm6jg3ux5qumhcn2b3flc3tyu6dmlb4xa7u5bf44yegnrjhc4yeq");
    }

    #[test]
    fn rejects_other_kinds() {
        // CIDv0 (dag-pb) of an empty directory.
        let v0 = "QmUNLLsPACCz1vLxQVkXqqLX5R1X345qqfHbsf67hvA3Nn";
        assert!(matches!(v0.parse::<ModelCid>(), Err(CidError::WrongKind { .. })));
        assert!(matches!("bafy-not-a-cid".parse::<ModelCid>(), Err(CidError::Malformed { .. })));
        assert!(matches!("".parse::<ModelCid>(), Err(CidError::Malformed { .. })));
    }

    proptest! {
        #[test]
        fn string_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let cid = ModelCid::for_bytes(&bytes);
            let back: ModelCid = cid.to_string().parse().unwrap();
            prop_assert_eq!(back, cid);
            prop_assert!(back.matches(&bytes));
            let json = serde_json::to_string(&cid).unwrap();
            prop_assert_eq!(serde_json::from_str::<ModelCid>(&json).unwrap(), cid);
        }
    }
}
