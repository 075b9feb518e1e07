//! `eth_getLogs` filters from arbitrary JSON: whatever parses resolves to a range inside the head and the
//! limit, or to a clear error; the result-count check never suggests a range outside the query.
#![no_main]

use alloy::rpc::types::Filter;
use libfuzzer_sys::fuzz_target;
use ogn_rpc::params::{LogLimits, LogScope, QueryError, check_result_count, log_scope};

fuzz_target!(|data: &[u8]| {
    if data.len() < 10 {
        return;
    }
    let head = u64::from_le_bytes(data[..8].try_into().unwrap());
    let limits = LogLimits {
        max_block_range: u64::from(data[8]) + 1,
        max_results: usize::from(data[9]) + 1,
    };
    let Ok(filter) = serde_json::from_slice::<Filter>(&data[10..]) else { return };
    match log_scope(&filter, head, &limits) {
        Ok(LogScope::Range { from, to }) => {
            assert!(from <= to && to <= head);
            assert!(to - from < limits.max_block_range);
            // Logs in every block of the range, three per block.
            let numbers = (from..=to).flat_map(|n| [n, n, n]);
            match check_result_count(numbers, from, &limits) {
                Ok(()) => assert!(3 * (to - from + 1) <= limits.max_results as u64),
                Err(QueryError::TooManyResults { retry_to, .. }) => {
                    assert!(from <= retry_to && retry_to <= to)
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        Ok(LogScope::Block(_)) => assert!(filter.get_block_hash().is_some()),
        Ok(LogScope::Empty) => {}
        Err(e) => {
            let code = e.to_rpc().code();
            assert!(code == -32602 || code == -32005, "{e}");
        }
    }
});
