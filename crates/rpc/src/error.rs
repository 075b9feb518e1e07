//! JSON-RPC error objects, worded and numbered the way geth does, because clients parse them.
//!
//! | code     | when                                                                                  |
//! |----------|---------------------------------------------------------------------------------------|
//! | `3`      | execution reverted (`eth_call`, `eth_estimateGas`); `data` is the revert bytes in hex  |
//! | `-32000` | transaction pool and execution errors (`nonce too low`, `insufficient funds …`)        |
//! | `-32005` | a query over a limit (`eth_getLogs` block range or result count)                       |
//! | `-32601` | method not found (answered by the server itself)                                       |
//! | `-32602` | invalid parameters (bad block tag, malformed hex, unknown account for `eth_sign`)      |
//! | `-32603` | internal errors (storage failures); the node keeps serving                             |

use alloy::primitives::{Bytes, U256};
use alloy::sol_types::{Revert, SolError};
use jsonrpsee::types::ErrorObjectOwned;

/// geth's code for a reverted execution.
pub const EXECUTION_REVERTED: i32 = 3;
/// geth's code for transaction pool and execution errors.
pub const SERVER_ERROR: i32 = -32000;
/// EIP-1474's "limit exceeded".
pub const LIMIT_EXCEEDED: i32 = -32005;
/// JSON-RPC 2.0's "invalid params".
pub const INVALID_PARAMS: i32 = -32602;
/// JSON-RPC 2.0's "internal error".
pub const INTERNAL_ERROR: i32 = -32603;

/// An error object with a code and message and no data.
pub fn rpc_error(code: i32, message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(code, message.into(), None::<()>)
}

/// `-32602` with `message`.
pub fn invalid_params(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_error(INVALID_PARAMS, message)
}

/// `-32000` with `message` (geth's wording for pool and execution errors is the chain error's `Display`).
pub fn server_error(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_error(SERVER_ERROR, message)
}

/// `-32603` with `message`.
pub fn internal_error(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_error(INTERNAL_ERROR, message)
}

/// `-32005` with `message`.
pub fn limit_exceeded(message: impl Into<String>) -> ErrorObjectOwned {
    rpc_error(LIMIT_EXCEEDED, message)
}

/// The error geth returns for a reverted call: code 3, message `execution reverted[: <reason>]`, and `data` the
/// revert bytes as `0x…` hex (always present, `0x` when the revert carried no data).
pub fn revert_error(output: &[u8]) -> ErrorObjectOwned {
    let message = match revert_reason(output) {
        Some(reason) => format!("execution reverted: {reason}"),
        None => "execution reverted".to_string(),
    };
    ErrorObjectOwned::owned(EXECUTION_REVERTED, message, Some(Bytes::copy_from_slice(output)))
}

/// The human reason in revert bytes, as geth's `abi.UnpackRevert` reads it: `Error(string)` gives the string,
/// `Panic(uint256)` gives Solidity's description of the panic code; anything else has no reason.
pub fn revert_reason(output: &[u8]) -> Option<String> {
    const PANIC_SELECTOR: [u8; 4] = [0x4e, 0x48, 0x7b, 0x71];
    if output.starts_with(&Revert::SELECTOR) {
        return Revert::abi_decode(output).ok().map(|r| r.reason);
    }
    if output.len() == 36 && output.starts_with(&PANIC_SELECTOR) {
        let code = U256::from_be_slice(&output[4..]);
        let reason = match u64::try_from(code) {
            Ok(0x00) => "generic panic",
            Ok(0x01) => "assert(false)",
            Ok(0x11) => "arithmetic underflow or overflow",
            Ok(0x12) => "division or modulo by zero",
            Ok(0x21) => "enum overflow",
            Ok(0x22) => "storage byte array that is incorrectly encoded",
            Ok(0x31) => "out-of-bounds array access; popping on an empty array",
            Ok(0x32) => "out-of-bounds access of an array or bytesN",
            Ok(0x41) => "out of memory",
            Ok(0x51) => "uninitialized function",
            _ => return Some(format!("unknown panic code: {code:#x}")),
        };
        return Some(reason.to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolError;

    #[test]
    fn revert_with_reason_reads_like_geth() {
        let data = Revert::from("not enough stake").abi_encode();
        let err = revert_error(&data);
        assert_eq!(err.code(), 3);
        assert_eq!(err.message(), "execution reverted: not enough stake");
        let printed: String = serde_json::from_str(err.data().unwrap().get()).unwrap();
        assert_eq!(printed, format!("0x{}", hex::encode(&data)));
    }

    #[test]
    fn revert_without_reason() {
        let err = revert_error(&[]);
        assert_eq!(err.message(), "execution reverted");
        assert_eq!(err.data().unwrap().get(), "\"0x\"");
        // A custom error's selector is not a reason.
        assert_eq!(revert_error(&[0xde, 0xad, 0xbe, 0xef]).message(), "execution reverted");
    }

    #[test]
    fn panics_are_described() {
        let mut data = vec![0x4e, 0x48, 0x7b, 0x71];
        data.extend_from_slice(&U256::from(0x12).to_be_bytes::<32>());
        assert_eq!(revert_reason(&data).unwrap(), "division or modulo by zero");
        data[35] = 0x99;
        assert_eq!(revert_reason(&data).unwrap(), "unknown panic code: 0x99");
        // A truncated Error(string) is not a reason and does not panic.
        let mut truncated = Revert::from("x").abi_encode();
        truncated.truncate(40);
        assert_eq!(revert_reason(&truncated), None);
    }
}
