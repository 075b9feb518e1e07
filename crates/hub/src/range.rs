//! The HTTP `Range` header, single byte ranges only (RFC 9110 §14).
//!
//! `bytes=a-b`, `bytes=a-` and `bytes=-n` are served as one range; a request for several ranges is served
//! whole (RFC 9110 lets a server ignore `Range`); anything else is an error naming the problem.

/// What to send for a `Range` header against a blob of a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// Send the whole blob (200).
    Full,
    /// Send bytes `start..end` (end exclusive, never empty) with 206.
    Partial {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// No byte of the blob is in the range (416, `Content-Range: bytes */size`).
    Unsatisfiable,
}

/// A `Range` header that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Range header: {0}")]
pub struct RangeError(pub String);

/// Resolves a `Range` header value against a blob of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> Result<RangeRequest, RangeError> {
    let err = |reason: &str| Err(RangeError(reason.to_string()));
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return err("only `bytes=` ranges are supported");
    };
    if spec.contains(',') {
        return Ok(RangeRequest::Full);
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return err("expected `bytes=START-END`, `bytes=START-` or `bytes=-SUFFIX`");
    };
    let number = |s: &str| -> Result<u64, RangeError> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RangeError(format!("`{}` is not a byte position", s.escape_debug())));
        }
        s.parse().map_err(|_| RangeError(format!("`{s}` is too large")))
    };
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix = number(last)?;
        if suffix == 0 || size == 0 {
            return Ok(RangeRequest::Unsatisfiable);
        }
        return Ok(RangeRequest::Partial { start: size.saturating_sub(suffix), end: size });
    }
    let start = number(first)?;
    let end_inclusive = if last.is_empty() { None } else { Some(number(last)?) };
    if let Some(e) = end_inclusive
        && e < start
    {
        return err("range end is before its start");
    }
    if start >= size {
        return Ok(RangeRequest::Unsatisfiable);
    }
    let end = end_inclusive.map_or(size, |e| e.saturating_add(1).min(size));
    Ok(RangeRequest::Partial { start, end })
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;
    use proptest::prelude::*;

    #[test]
    fn forms() {
        assert_eq!(parse_range("bytes=0-9", 100), Ok(Partial { start: 0, end: 10 }));
        assert_eq!(parse_range("bytes=90-", 100), Ok(Partial { start: 90, end: 100 }));
        assert_eq!(parse_range("bytes=-10", 100), Ok(Partial { start: 90, end: 100 }));
        assert_eq!(parse_range("bytes=-1000", 100), Ok(Partial { start: 0, end: 100 }));
        assert_eq!(parse_range("bytes=50-1000", 100), Ok(Partial { start: 50, end: 100 }));
        assert_eq!(parse_range("bytes=100-", 100), Ok(Unsatisfiable));
        assert_eq!(parse_range("bytes=-0", 100), Ok(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-0", 0), Ok(Unsatisfiable));
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ok(Full));
        for bad in
            ["items=0-1", "bytes=", "bytes=5", "bytes=9-3", "bytes=a-b", "bytes=--1", "bytes=+1-2"]
        {
            assert!(parse_range(bad, 100).is_err(), "{bad}");
        }
        assert!(
            parse_range("bytes=99999999999999999999999-", 100).unwrap_err().0.contains("too large")
        );
    }

    proptest! {
        #[test]
        fn partial_ranges_are_inside_the_blob(header in "\\PC{0,30}", size in 0u64..10_000) {
            if let Ok(Partial { start, end }) = parse_range(&header, size) {
                prop_assert!(start < end && end <= size);
            }
        }

        #[test]
        fn explicit_ranges(size in 1u64..10_000, a in 0u64..20_000, len in 0u64..20_000) {
            let b = a + len;
            let got = parse_range(&format!("bytes={a}-{b}"), size).unwrap();
            if a >= size {
                prop_assert_eq!(got, Unsatisfiable);
            } else {
                prop_assert_eq!(got, Partial { start: a, end: (b + 1).min(size) });
            }
        }
    }
}
