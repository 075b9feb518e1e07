//! What node and operators send each other over HTTP.

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol_types::SolValue;
use ogn_types::ModelCid;
use ogn_verify::{Attestation, Statement};
use serde::{Deserialize, Serialize};

/// `POST /api/v0/operators`: an operator tells a node where it listens and what it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announce {
    /// The operator's account (bonded in the ledger).
    pub address: Address,
    /// Where it takes jobs (`POST {url}/jobs`).
    pub url: String,
    /// Model CIDs it serves; empty = any model in the node's hub.
    pub models: Vec<String>,
    /// EIP-191 signature over [`Announce::digest`].
    pub signature: Bytes,
}

impl Announce {
    /// `keccak256(abi.encode("ogn-announce-v1", address, url, models))`.
    pub fn digest(address: Address, url: &str, models: &[String]) -> B256 {
        keccak256(
            ("ogn-announce-v1".to_string(), address, url.to_string(), models.to_vec())
                .abi_encode_params(),
        )
    }

    /// A signed announcement.
    pub fn signed(signer: &PrivateKeySigner, url: &str, models: Vec<String>) -> Self {
        let digest = Self::digest(signer.address(), url, &models);
        let signature = signer.sign_message_sync(digest.as_slice()).expect("local signing");
        Self {
            address: signer.address(),
            url: url.into(),
            models,
            signature: signature.as_bytes().to_vec().into(),
        }
    }

    /// Whether the signature recovers to `address`.
    pub fn verify(&self) -> bool {
        let digest = Self::digest(self.address, &self.url, &self.models);
        alloy::primitives::Signature::try_from(self.signature.as_ref())
            .ok()
            .and_then(|s| s.recover_address_from_msg(digest.as_slice()).ok())
            == Some(self.address)
    }
}

/// `POST {operator}/jobs`: a job to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobOffer {
    /// Chain id (bound into the statement).
    pub chain_id: u64,
    /// Job number.
    pub job: u64,
    /// The model file.
    pub model: ModelCid,
    /// Inputs, in the JSON form of `ogn_types::json` (exactly as the request carried them).
    pub input: serde_json::Value,
}

/// The operator's answer: its signed statement and the outputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JobResult {
    /// What it states.
    pub statement: Statement,
    /// Its signature over the statement.
    pub attestation: Attestation,
    /// Outputs, JSON form.
    pub outputs: serde_json::Value,
}
