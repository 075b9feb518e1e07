//! Any bytes given to `eth_sendRawTransaction`'s decoder: an error or a transaction that re-encodes to
//! the same bytes, and a signer recovery that does not panic.
#![no_main]

use alloy::{consensus::transaction::SignerRecoverable, eips::eip2718::Encodable2718};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(tx) = ogn_chain::decode_transaction(data, ogn_chain::MAX_TX_BYTES) {
        let _ = tx.recover_signer();
        assert_eq!(tx.encoded_2718(), data);
    }
});
