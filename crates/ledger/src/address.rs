//! Account addresses: 20 bytes, written as `0x` and 40 lowercase hex digits (the EVM's form).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A 20-byte account address. Serialized as its `0x…` hex string so maps keyed by it stay JSON-friendly.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Address(pub [u8; 20]);

impl Ord for Address {
    /// Byte-wise (lexicographic) order, compared as two big-endian `u64`s and a `u32` rather than by
    /// `memcmp`: the same order, without a library call on every map lookup.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        fn words(a: &[u8; 20]) -> (u64, u64, u32) {
            let w = |r: std::ops::Range<usize>| {
                let mut b = [0u8; 8];
                b[8 - r.len()..].copy_from_slice(&a[r]);
                u64::from_be_bytes(b)
            };
            (w(0..8), w(8..16), w(16..20) as u32)
        }
        words(&self.0).cmp(&words(&other.0))
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Address {
    /// The liquid staking pool: it holds the pool's delegations; no key controls it.
    pub const LST_POOL: Address = Address::reserved(1);

    /// A reserved system address `0xffff…ff00 + n`.
    pub const fn reserved(n: u8) -> Address {
        let mut bytes = [0xff; 20];
        bytes[19] = n;
        Address(bytes)
    }

    /// The address whose last eight bytes are `n` big-endian (tests, simulators).
    pub fn from_index(n: u64) -> Address {
        let mut bytes = [0u8; 20];
        bytes[12..].copy_from_slice(&n.to_be_bytes());
        Address(bytes)
    }

    /// Whether this is a reserved system address (no user may act as it).
    pub fn is_reserved(&self) -> bool {
        self.0[..19].iter().all(|b| *b == 0xff)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("0x")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an address: expected 0x followed by 40 hex digits")]
pub struct AddressParseError(String);

impl FromStr for Address {
    type Err = AddressParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || AddressParseError(s.to_owned());
        let hex = s.strip_prefix("0x").ok_or_else(err)?;
        if hex.len() != 40 || !hex.is_ascii() {
            return Err(err());
        }
        let mut bytes = [0u8; 20];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| err())?;
        }
        Ok(Address(bytes))
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let a = Address::from_index(0xabcd);
        let s = a.to_string();
        assert_eq!(s, "0x000000000000000000000000000000000000abcd");
        assert_eq!(s.parse::<Address>().unwrap(), a);
        assert!("0x12".parse::<Address>().is_err());
        assert!("000000000000000000000000000000000000abcd".parse::<Address>().is_err());
        assert!("0x00000000000000000000000000000000000000zz".parse::<Address>().is_err());
        assert!(Address::LST_POOL.is_reserved());
        assert!(!a.is_reserved());
    }

    #[test]
    fn order_is_byte_order() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..10_000 {
            let (mut a, mut b) = ([0u8; 20], [0u8; 20]);
            for x in &mut a {
                *x = next() as u8;
            }
            // b shares a prefix of every length with a, then differs (or not) in one byte.
            let common = (next() % 21) as usize;
            b[..common].copy_from_slice(&a[..common]);
            for x in b.iter_mut().skip(common) {
                *x = next() as u8;
            }
            if common < 20 && next() % 2 == 0 {
                b[common + 1..].copy_from_slice(&a[common + 1..]);
            }
            assert_eq!(Address(a).cmp(&Address(b)), a.cmp(&b));
        }
    }
}
