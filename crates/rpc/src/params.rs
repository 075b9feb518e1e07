//! Parameters from outside: block tags and log filters, resolved against the current head with limits.
//!
//! Everything here is pure (no chain access) so that the fuzz targets in `fuzz/` can drive it with arbitrary
//! JSON. The rules:
//!
//! - `latest`, `pending`, `safe` and `finalized` are the head: the devnet seals a block for every transaction,
//!   so there is no pending block, and a single validator finalizes immediately. `earliest` is block 0.
//! - A log query covers `fromBlock..=toBlock` (both default to `latest`); `toBlock` past the head is clamped to
//!   it, `fromBlock > toBlock` as written is an error, a range longer than [`LogLimits::max_block_range`] is
//!   refused before any block is read, and a result longer than [`LogLimits::max_results`] is refused with the
//!   range to retry with.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::B256;
use alloy::rpc::types::{Filter, FilterBlockOption};
use jsonrpsee::types::ErrorObjectOwned;

use crate::error::{invalid_params, limit_exceeded};

/// A non-negative integer parameter as clients send it: a JSON number, a `0x` hex string or a decimal string
/// (web3.py sends numbers for `eth_feeHistory`'s block count, ethers sends hex). Printed as `0x` hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(pub u64);

impl std::str::FromStr for Quantity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        if !body.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("invalid quantity {s:?}: not a hex or decimal integer"));
        }
        let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
            Some("") => return Err(format!("invalid quantity {s:?}: no digits after 0x")),
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.parse::<u64>(),
        };
        parsed.map(Quantity).map_err(|e| format!("invalid quantity {s:?}: {e}"))
    }
}

impl<'de> serde::Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::Number(n) => n
                .as_u64()
                .map(Quantity)
                .ok_or_else(|| D::Error::custom(format!("invalid quantity {n}: not a u64"))),
            serde_json::Value::String(s) => s.parse().map_err(D::Error::custom),
            other => Err(D::Error::custom(format!("invalid quantity {other}: not a number"))),
        }
    }
}

impl serde::Serialize for Quantity {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#x}", self.0))
    }
}

/// Limits on one `eth_getLogs` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogLimits {
    /// The most blocks one query may cover (`toBlock - fromBlock + 1`).
    pub max_block_range: u64,
    /// The most logs one query may return.
    pub max_results: usize,
}

impl Default for LogLimits {
    fn default() -> Self {
        Self { max_block_range: 10_000, max_results: 10_000 }
    }
}

/// Why a query was refused. Each maps to one JSON-RPC error ([`QueryError::to_rpc`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// `fromBlock` after `toBlock`.
    #[error("invalid block range params: fromBlock {from} is after toBlock {to}")]
    InvalidRange {
        /// Resolved `fromBlock`.
        from: u64,
        /// Resolved `toBlock`.
        to: u64,
    },
    /// The range covers more blocks than allowed.
    #[error("query exceeds max block range {max}: blocks {from}-{to} span {span}")]
    RangeTooLarge {
        /// Resolved `fromBlock`.
        from: u64,
        /// Resolved `toBlock`.
        to: u64,
        /// Number of blocks covered.
        span: u64,
        /// The limit.
        max: u64,
    },
    /// The query matched more logs than allowed; `retry_to` is the last block whose logs all fit.
    #[error("query exceeds max results {max}, retry with the range {from}-{retry_to}")]
    TooManyResults {
        /// The limit.
        max: usize,
        /// Resolved `fromBlock`.
        from: u64,
        /// Suggested `toBlock` for a retry.
        retry_to: u64,
    },
}

impl QueryError {
    /// `-32602` for a malformed range, `-32005` (limit exceeded) for the limits.
    pub fn to_rpc(&self) -> ErrorObjectOwned {
        match self {
            Self::InvalidRange { .. } => invalid_params(self.to_string()),
            Self::RangeTooLarge { .. } | Self::TooManyResults { .. } => {
                limit_exceeded(self.to_string())
            }
        }
    }
}

impl From<QueryError> for ErrorObjectOwned {
    fn from(e: QueryError) -> Self {
        e.to_rpc()
    }
}

/// The block number a tag names when the head is `head`. A number is returned as written (it may be past the
/// head; callers answer `null` for a block that does not exist).
pub fn resolve_tag(tag: BlockNumberOrTag, head: u64) -> u64 {
    match tag {
        BlockNumberOrTag::Latest
        | BlockNumberOrTag::Pending
        | BlockNumberOrTag::Safe
        | BlockNumberOrTag::Finalized => head,
        BlockNumberOrTag::Earliest => 0,
        BlockNumberOrTag::Number(n) => n,
    }
}

/// Which blocks a log query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogScope {
    /// Blocks `from..=to`, with `to <= head` and `to - from < max_block_range`.
    Range {
        /// First block.
        from: u64,
        /// Last block.
        to: u64,
    },
    /// The one block with this hash.
    Block(B256),
    /// Nothing to read (the range starts past the head).
    Empty,
}

/// Resolves a filter's blocks against `head` and checks the range limit.
pub fn log_scope(filter: &Filter, head: u64, limits: &LogLimits) -> Result<LogScope, QueryError> {
    let (from, to) = match filter.block_option {
        FilterBlockOption::AtBlockHash(hash) => return Ok(LogScope::Block(hash)),
        FilterBlockOption::Range { from_block, to_block } => (
            resolve_tag(from_block.unwrap_or_default(), head),
            resolve_tag(to_block.unwrap_or_default(), head),
        ),
    };
    if from > to {
        return Err(QueryError::InvalidRange { from, to });
    }
    if from > head {
        return Ok(LogScope::Empty);
    }
    let to = to.min(head);
    let span = to - from + 1;
    if span > limits.max_block_range {
        return Err(QueryError::RangeTooLarge { from, to, span, max: limits.max_block_range });
    }
    Ok(LogScope::Range { from, to })
}

/// Checks a result against [`LogLimits::max_results`]. `block_numbers` are the block numbers of the logs, in
/// order; the suggested retry range ends before the block in which the limit was crossed.
pub fn check_result_count(
    block_numbers: impl IntoIterator<Item = u64>,
    from: u64,
    limits: &LogLimits,
) -> Result<(), QueryError> {
    let mut count = 0usize;
    let mut last_full_block = None::<u64>;
    let mut current = None::<u64>;
    for number in block_numbers {
        if current != Some(number) {
            last_full_block = current;
            current = Some(number);
        }
        count += 1;
        if count > limits.max_results {
            // Every block before the current one fits entirely; at least one block is always suggested.
            let retry_to = last_full_block.unwrap_or(number).max(from);
            return Err(QueryError::TooManyResults { max: limits.max_results, from, retry_to });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(json: &str) -> Filter {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn quantities_in_every_client_spelling() {
        for (json, value) in [
            ("5", 5),
            ("\"0x5\"", 5),
            ("\"0x0\"", 0),
            ("\"12\"", 12),
            ("\"0xff\"", 255),
            ("\"0x01\"", 1),
        ] {
            assert_eq!(serde_json::from_str::<Quantity>(json).unwrap(), Quantity(value), "{json}");
        }
        for bad in [
            "-1",
            "1.5",
            "\"0x\"",
            "\"0xg\"",
            "null",
            "\"+5\"",
            "\"0x+5\"",
            "\"0x10000000000000000\"",
        ] {
            assert!(serde_json::from_str::<Quantity>(bad).is_err(), "{bad}");
        }
        assert_eq!(serde_json::to_string(&Quantity(255)).unwrap(), "\"0xff\"");
    }

    #[test]
    fn tags_resolve_against_the_head() {
        for tag in ["latest", "pending", "safe", "finalized"] {
            let t: BlockNumberOrTag = serde_json::from_str(&format!("\"{tag}\"")).unwrap();
            assert_eq!(resolve_tag(t, 42), 42, "{tag}");
        }
        assert_eq!(resolve_tag(BlockNumberOrTag::Earliest, 42), 0);
        assert_eq!(resolve_tag(serde_json::from_str("\"0x2a\"").unwrap(), 7), 42);
        assert!(serde_json::from_str::<BlockNumberOrTag>("\"newest\"").is_err());
    }

    #[test]
    fn ranges_default_and_clamp() {
        let limits = LogLimits::default();
        assert_eq!(log_scope(&filter("{}"), 9, &limits), Ok(LogScope::Range { from: 9, to: 9 }));
        assert_eq!(
            log_scope(&filter(r#"{"fromBlock": "0x1", "toBlock": "0x64"}"#), 9, &limits),
            Ok(LogScope::Range { from: 1, to: 9 })
        );
        assert_eq!(
            log_scope(&filter(r#"{"fromBlock": "0x20", "toBlock": "0x64"}"#), 9, &limits),
            Ok(LogScope::Empty)
        );
        let hash = B256::repeat_byte(7);
        assert_eq!(
            log_scope(&filter(&format!(r#"{{"blockHash": "{hash}"}}"#)), 9, &limits),
            Ok(LogScope::Block(hash))
        );
    }

    #[test]
    fn bad_and_huge_ranges_are_refused() {
        let limits = LogLimits { max_block_range: 100, max_results: 5 };
        let err = log_scope(&filter(r#"{"fromBlock": "0x5", "toBlock": "0x4"}"#), 9, &limits)
            .unwrap_err();
        assert_eq!(err, QueryError::InvalidRange { from: 5, to: 4 });
        assert_eq!(err.to_rpc().code(), -32602);
        let err =
            log_scope(&filter(r#"{"fromBlock": "earliest"}"#), 1_000_000, &limits).unwrap_err();
        assert_eq!(err.to_rpc().code(), -32005);
        assert_eq!(
            err.to_string(),
            "query exceeds max block range 100: blocks 0-1000000 span 1000001"
        );
        // Exactly at the limit is fine.
        assert!(
            log_scope(&filter(r#"{"fromBlock": "0x0", "toBlock": "0x63"}"#), 500, &limits).is_ok()
        );
    }

    #[test]
    fn result_count_suggests_a_retry_range() {
        let limits = LogLimits { max_block_range: 100, max_results: 3 };
        assert!(check_result_count([1, 1, 2], 1, &limits).is_ok());
        let err = check_result_count([1, 1, 2, 3, 3], 1, &limits).unwrap_err();
        assert_eq!(err, QueryError::TooManyResults { max: 3, from: 1, retry_to: 2 });
        assert_eq!(err.to_string(), "query exceeds max results 3, retry with the range 1-2");
        // One block with too many logs still suggests that block.
        let err = check_result_count([4, 4, 4, 4], 4, &limits).unwrap_err();
        assert_eq!(err, QueryError::TooManyResults { max: 3, from: 4, retry_to: 4 });
    }
}
