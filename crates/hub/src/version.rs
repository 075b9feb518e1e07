//! Version numbers in OpenGradient's style: `MAJOR.MINOR` with the minor part printed with at least two
//! digits. The first version of a model is `1.00`; a minor release bumps the minor part (`1.00` → `1.01`),
//! a major release bumps the major part and resets the minor part (`1.07` → `2.00`).
//!
//! Only the canonical spelling parses (`1.00`, `12.05`, `1.100`), so each version has exactly one string
//! and a version string can never smuggle a path (`../1.00`, `1.00/..`).

use std::{fmt, str::FromStr};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::names::InvalidName;

/// Longest accepted version string, in bytes.
const MAX_VERSION_LEN: usize = 21;

/// A model version, ordered by `(major, minor)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major part (≥ 1 for versions the hub creates).
    pub major: u32,
    /// Minor part.
    pub minor: u32,
}

impl Version {
    /// The version a model's first release gets.
    pub const FIRST: Version = Version { major: 1, minor: 0 };

    /// The version after `self`: `major + 1 . 00` when `is_major`, else `major . minor + 1`.
    /// `None` when the number would overflow.
    pub fn next(self, is_major: bool) -> Option<Version> {
        if is_major {
            Some(Version { major: self.major.checked_add(1)?, minor: 0 })
        } else {
            Some(Version { major: self.major, minor: self.minor.checked_add(1)? })
        }
    }

    /// The version a new release gets after `latest` (or [`Version::FIRST`] when there is none).
    pub fn after(latest: Option<Version>, is_major: bool) -> Option<Version> {
        match latest {
            None => Some(Version::FIRST),
            Some(v) => v.next(is_major),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.major, self.minor)
    }
}

impl FromStr for Version {
    type Err = InvalidName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: &str| {
            InvalidName::new("version", s, format!("{reason} (expected MAJOR.MINOR like `1.00`)"))
        };
        if s.len() > MAX_VERSION_LEN {
            return Err(err("too long"));
        }
        let (major, minor) = s.split_once('.').ok_or_else(|| err("missing `.`"))?;
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return Err(err("parts must be decimal digits"));
        }
        let v = Version {
            major: major.parse().map_err(|_| err("major part out of range"))?,
            minor: minor.parse().map_err(|_| err("minor part out of range"))?,
        };
        if v.to_string() != s {
            return Err(err("not in canonical form"));
        }
        Ok(v)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn opengradient_numbering() {
        let v1 = Version::after(None, false).unwrap();
        assert_eq!(v1.to_string(), "1.00");
        assert_eq!(Version::after(None, true).unwrap().to_string(), "1.00");
        let v101 = v1.next(false).unwrap();
        assert_eq!(v101.to_string(), "1.01");
        assert_eq!(v101.next(true).unwrap().to_string(), "2.00");
        let v199 = Version { major: 1, minor: 99 };
        assert_eq!(v199.next(false).unwrap().to_string(), "1.100");
        assert_eq!(Version { major: u32::MAX, minor: 0 }.next(true), None);
    }

    #[test]
    fn only_canonical_strings_parse() {
        assert_eq!("1.00".parse::<Version>().unwrap(), Version::FIRST);
        assert_eq!("2.05".parse::<Version>().unwrap(), Version { major: 2, minor: 5 });
        for bad in [
            "", "1", "1.0", "01.00", "1.000", "+1.00", "1.00 ", "../1.00", "1.00/..", "1.-1",
            "a.bc",
        ] {
            let err = bad.parse::<Version>().unwrap_err();
            assert_eq!(err.field, "version", "{bad:?}");
        }
        assert!("99999999999.00".parse::<Version>().is_err());
    }

    proptest! {
        #[test]
        fn display_parse_roundtrip(major in any::<u32>(), minor in any::<u32>()) {
            let v = Version { major, minor };
            prop_assert_eq!(v.to_string().parse::<Version>().unwrap(), v);
        }

        #[test]
        fn next_is_strictly_greater(major in 1..u32::MAX, minor in 0..u32::MAX, is_major in any::<bool>()) {
            let v = Version { major, minor };
            let n = v.next(is_major).unwrap();
            prop_assert!(n > v);
            if is_major {
                prop_assert_eq!(n.minor, 0);
                prop_assert_eq!(n.major, major + 1);
            } else {
                prop_assert_eq!(n.major, major);
                prop_assert_eq!(n.minor, minor + 1);
            }
        }

        #[test]
        fn parse_never_panics_and_roundtrips(s in "\\PC{0,24}") {
            if let Ok(v) = s.parse::<Version>() {
                prop_assert_eq!(v.to_string(), s);
            }
        }

        #[test]
        fn release_sequence_is_increasing(steps in proptest::collection::vec(any::<bool>(), 1..50)) {
            let mut latest = None;
            for is_major in steps {
                let next = Version::after(latest, is_major).unwrap();
                if let Some(prev) = latest {
                    prop_assert!(next > prev);
                }
                latest = Some(next);
            }
        }
    }
}
