//! Receipts: one document per inference that anyone can check offline.
//!
//! A receipt binds the model, the input and output (by hash), the result id, the engine, the mode and its
//! quoted [`Guarantee`], the operators' signed attestations (each with its [`LayerCommitment`]) and, once
//! the job is in a block, the block and transaction. Two encodings carry the same fields: JSON (serde, amounts
//! as decimal strings) and the Solidity ABI ([`ReceiptAbi`], for contracts and compact storage).
//!
//! An attestation signs, with the operator's account key (EIP-191 `personal_sign`), the digest
//! ```text
//!  keccak256(abi.encode("ogn-attestation-v1", chainId, job, model CID bytes, inputHash, outputHash,
//!                       resultId, engineId, layerRoot, layerCount))
//! ```
//! so a signature cannot be moved to another job, model, input, output, engine or chain.
//!
//! [`Receipt::check`] (offline): every signature recovers to its operator; the executing operators agree
//! with the receipt's output, result and commitment; their number matches the mode; the guarantee equals
//! the formula's value for its own parameters. [`Receipt::check_tensors`] additionally recomputes the
//! hashes and the result id from the tensors when the checker has them.

use alloy::primitives::{Address, B256, Bytes, keccak256};
use alloy::signers::{SignerSync, local::PrivateKeySigner};
use alloy::sol;
use alloy::sol_types::SolValue;
use ogn_types::{ModelCid, Tensor, canonical};
use serde::{Deserialize, Serialize};

use crate::commitment::LayerCommitment;
use crate::guarantee::{Guarantee, quote};
use crate::mode::Mode;

/// Receipt format version.
pub const RECEIPT_VERSION: u8 = 1;

/// `keccak256` of the canonical encoding of a tensor list (inputs or outputs).
pub fn tensors_hash(tensors: &[Tensor]) -> B256 {
    keccak256(canonical::encode_tensors(tensors))
}

/// What an operator states about a job it executed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Chain id.
    pub chain_id: u64,
    /// Job number.
    pub job: u64,
    /// Model.
    pub model: ModelCid,
    /// Hash of the inputs.
    pub input_hash: B256,
    /// Hash of the outputs.
    pub output_hash: B256,
    /// Result id (`ogn_types::canonical::result_id`).
    pub result_id: B256,
    /// Engine id.
    pub engine_id: String,
    /// Commitment to every layer's output.
    pub commitment: LayerCommitment,
}

impl Statement {
    /// The digest an operator signs.
    pub fn digest(&self) -> B256 {
        keccak256(
            (
                "ogn-attestation-v1".to_string(),
                self.chain_id,
                self.job,
                Bytes::from(self.model.to_bytes()),
                self.input_hash,
                self.output_hash,
                self.result_id,
                self.engine_id.clone(),
                self.commitment.root,
                self.commitment.count,
            )
                .abi_encode_params(),
        )
    }

    /// Signs this statement.
    pub fn sign(&self, signer: &PrivateKeySigner) -> Attestation {
        let signature = signer
            .sign_message_sync(self.digest().as_slice())
            .expect("local secp256k1 signing does not fail");
        Attestation {
            operator: signer.address(),
            output_hash: self.output_hash,
            result_id: self.result_id,
            commitment: self.commitment,
            signature: Bytes::from(signature.as_bytes().to_vec()),
        }
    }
}

/// An operator's signed statement, as carried in a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    /// The operator (its account address).
    pub operator: Address,
    /// Its output hash.
    pub output_hash: B256,
    /// Its result id.
    pub result_id: B256,
    /// Its layer commitment.
    pub commitment: LayerCommitment,
    /// 65-byte secp256k1 signature over [`Statement::digest`] (EIP-191).
    pub signature: Bytes,
}

/// Where a job's result stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Final: replicas agreed, or the challenge window closed, or a dispute upheld the result.
    Accepted,
    /// Open to challenge until the window closes (SAMPLING, VANILLA).
    Challengeable,
    /// Settled by a dispute: the attestations are the executors that won; the losers were slashed.
    Disputed,
    /// Proven wrong; the operator was slashed.
    Rejected,
}

/// The block and transaction that carried the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inclusion {
    /// Block number.
    pub block_number: u64,
    /// Block hash.
    pub block_hash: B256,
    /// Transaction hash.
    pub tx_hash: B256,
}

/// One inference, checkable offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// Format version ([`RECEIPT_VERSION`]).
    pub version: u8,
    /// Chain id.
    pub chain_id: u64,
    /// Job number.
    pub job: u64,
    /// Model.
    pub model: ModelCid,
    /// Hash of the inputs.
    pub input_hash: B256,
    /// Hash of the outputs.
    pub output_hash: B256,
    /// Result id.
    pub result_id: B256,
    /// Engine id.
    pub engine_id: String,
    /// Commitment of the accepted result.
    pub commitment: LayerCommitment,
    /// The quote.
    pub guarantee: Guarantee,
    /// Executing operators first (as many as the mode has), then any verifiers.
    pub attestations: Vec<Attestation>,
    /// Where the result stands.
    pub status: Status,
    /// Block and transaction, once included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inclusion: Option<Inclusion>,
}

/// Why a receipt does not check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Unknown version.
    #[error("receipt version {0} is not supported (this build reads {RECEIPT_VERSION})")]
    Version(u8),
    /// A signature does not recover to its operator.
    #[error("attestation {index}: signature does not recover to operator {operator}")]
    BadSignature {
        /// Attestation index.
        index: usize,
        /// The operator named.
        operator: Address,
    },
    /// An executing operator's statement differs from the receipt's result.
    #[error("attestation {index} ({operator}) states a different {field} than the receipt")]
    Disagrees {
        /// Attestation index.
        index: usize,
        /// The operator.
        operator: Address,
        /// Which field.
        field: &'static str,
    },
    /// Fewer executing attestations than the mode requires, or the same operator twice.
    #[error("mode needs {needed} distinct executing operators, the receipt has {got}")]
    Executors {
        /// Needed.
        needed: usize,
        /// Present.
        got: usize,
    },
    /// The guarantee is not what the formula gives.
    #[error("guarantee does not match the formula: receipt {stated:?}, formula {computed:?}")]
    Guarantee {
        /// In the receipt.
        stated: Box<Guarantee>,
        /// Recomputed.
        computed: Box<Guarantee>,
    },
    /// Mode byte unknown or not served.
    #[error("mode: {0}")]
    Mode(String),
    /// Hash of the given tensors differs.
    #[error("{0} does not match the tensors given")]
    Tensors(&'static str),
    /// ABI bytes do not decode.
    #[error("ABI decoding: {0}")]
    Abi(String),
}

/// What an offline check established.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checked {
    /// Operators whose signatures verified.
    pub signers: Vec<Address>,
    /// Mode.
    pub mode: String,
    /// Catch probability, ppm.
    pub catch_ppm: u64,
}

impl Receipt {
    /// The statement executing operators signed for this receipt's result.
    pub fn statement(&self) -> Statement {
        Statement {
            chain_id: self.chain_id,
            job: self.job,
            model: self.model,
            input_hash: self.input_hash,
            output_hash: self.output_hash,
            result_id: self.result_id,
            engine_id: self.engine_id.clone(),
            commitment: self.commitment,
        }
    }

    /// Checks signatures, agreement, the executor count and the guarantee formula. Needs nothing but the
    /// receipt.
    pub fn check(&self) -> Result<Checked, ReceiptError> {
        if self.version != RECEIPT_VERSION {
            return Err(ReceiptError::Version(self.version));
        }
        let mode =
            Mode::from_byte(self.guarantee.mode).map_err(|e| ReceiptError::Mode(e.to_string()))?;
        let executors = mode.executors();
        let mut signers = Vec::with_capacity(self.attestations.len());
        for (index, a) in self.attestations.iter().enumerate() {
            let statement = Statement {
                output_hash: a.output_hash,
                result_id: a.result_id,
                commitment: a.commitment,
                ..self.statement()
            };
            let recovered = alloy::primitives::Signature::try_from(a.signature.as_ref())
                .ok()
                .and_then(|s| s.recover_address_from_msg(statement.digest().as_slice()).ok());
            if recovered != Some(a.operator) {
                return Err(ReceiptError::BadSignature { index, operator: a.operator });
            }
            if index < executors && self.status != Status::Rejected {
                let field = if a.output_hash != self.output_hash {
                    Some("output hash")
                } else if a.result_id != self.result_id {
                    Some("result id")
                } else if a.commitment != self.commitment {
                    Some("layer commitment")
                } else {
                    None
                };
                if let Some(field) = field {
                    return Err(ReceiptError::Disagrees { index, operator: a.operator, field });
                }
            }
            signers.push(a.operator);
        }
        let needed = if self.status == Status::Disputed { 1 } else { executors };
        let mut distinct: Vec<Address> = signers.iter().take(executors).copied().collect();
        distinct.sort();
        distinct.dedup();
        if distinct.len() < needed {
            return Err(ReceiptError::Executors { needed, got: distinct.len() });
        }
        let computed =
            quote(mode, self.guarantee.value, self.guarantee.bond_locked, &self.guarantee.params())
                .map_err(|e| ReceiptError::Mode(e.to_string()))?;
        if computed != self.guarantee {
            return Err(ReceiptError::Guarantee {
                stated: Box::new(self.guarantee),
                computed: Box::new(computed),
            });
        }
        Ok(Checked { signers, mode: mode.to_string(), catch_ppm: computed.catch_ppm })
    }

    /// [`Receipt::check`] plus the hashes and the result id recomputed from the tensors.
    pub fn check_tensors(
        &self,
        inputs: &[Tensor],
        outputs: &[Tensor],
    ) -> Result<Checked, ReceiptError> {
        let checked = self.check()?;
        if tensors_hash(inputs) != self.input_hash {
            return Err(ReceiptError::Tensors("input hash"));
        }
        if tensors_hash(outputs) != self.output_hash {
            return Err(ReceiptError::Tensors("output hash"));
        }
        if canonical::result_id(&self.model, inputs, outputs, &self.engine_id) != self.result_id {
            return Err(ReceiptError::Tensors("result id"));
        }
        Ok(checked)
    }

    /// The ABI encoding.
    pub fn to_abi(&self) -> Vec<u8> {
        let g = &self.guarantee;
        let inclusion = self.inclusion.unwrap_or(Inclusion {
            block_number: 0,
            block_hash: B256::ZERO,
            tx_hash: B256::ZERO,
        });
        ReceiptAbi {
            version: self.version,
            chainId: self.chain_id,
            job: self.job,
            model: self.model.to_string(),
            inputHash: self.input_hash,
            outputHash: self.output_hash,
            resultId: self.result_id,
            engineId: self.engine_id.clone(),
            layerRoot: self.commitment.root,
            layerCount: self.commitment.count,
            guarantee: GuaranteeAbi {
                mode: g.mode,
                samplingPpm: g.sampling_ppm,
                replicas: g.replicas,
                value: g.value,
                bondLocked: g.bond_locked,
                catchPpm: g.catch_ppm,
                gammaPpm: g.gamma_ppm,
                adversarialSharePpm: g.adversarial_share_ppm,
                basePrice: g.base_price,
                price: g.price,
            },
            attestations: self
                .attestations
                .iter()
                .map(|a| AttestationAbi {
                    operator: a.operator,
                    outputHash: a.output_hash,
                    resultId: a.result_id,
                    layerRoot: a.commitment.root,
                    layerCount: a.commitment.count,
                    signature: a.signature.clone(),
                })
                .collect(),
            status: self.status as u8,
            included: self.inclusion.is_some(),
            blockNumber: inclusion.block_number,
            blockHash: inclusion.block_hash,
            txHash: inclusion.tx_hash,
        }
        .abi_encode()
    }

    /// Decodes the ABI encoding.
    pub fn from_abi(bytes: &[u8]) -> Result<Self, ReceiptError> {
        let r = ReceiptAbi::abi_decode(bytes).map_err(|e| ReceiptError::Abi(e.to_string()))?;
        let model = r.model.parse().map_err(|e| ReceiptError::Abi(format!("model: {e}")))?;
        let status = match r.status {
            0 => Status::Accepted,
            1 => Status::Challengeable,
            2 => Status::Disputed,
            3 => Status::Rejected,
            s => return Err(ReceiptError::Abi(format!("status {s}"))),
        };
        let g = r.guarantee;
        Ok(Receipt {
            version: r.version,
            chain_id: r.chainId,
            job: r.job,
            model,
            input_hash: r.inputHash,
            output_hash: r.outputHash,
            result_id: r.resultId,
            engine_id: r.engineId,
            commitment: LayerCommitment { root: r.layerRoot, count: r.layerCount },
            guarantee: Guarantee {
                mode: g.mode,
                sampling_ppm: g.samplingPpm,
                replicas: g.replicas,
                value: g.value,
                bond_locked: g.bondLocked,
                catch_ppm: g.catchPpm,
                gamma_ppm: g.gammaPpm,
                adversarial_share_ppm: g.adversarialSharePpm,
                base_price: g.basePrice,
                price: g.price,
            },
            attestations: r
                .attestations
                .into_iter()
                .map(|a| Attestation {
                    operator: a.operator,
                    output_hash: a.outputHash,
                    result_id: a.resultId,
                    commitment: LayerCommitment { root: a.layerRoot, count: a.layerCount },
                    signature: a.signature,
                })
                .collect(),
            status,
            inclusion: r.included.then_some(Inclusion {
                block_number: r.blockNumber,
                block_hash: r.blockHash,
                tx_hash: r.txHash,
            }),
        })
    }
}

sol! {
    /// The guarantee, ABI form.
    #[derive(Debug, PartialEq)]
    struct GuaranteeAbi {
        uint8 mode;
        uint64 samplingPpm;
        uint8 replicas;
        uint128 value;
        uint128 bondLocked;
        uint64 catchPpm;
        uint64 gammaPpm;
        uint64 adversarialSharePpm;
        uint128 basePrice;
        uint128 price;
    }

    /// An attestation, ABI form.
    #[derive(Debug, PartialEq)]
    struct AttestationAbi {
        address operator;
        bytes32 outputHash;
        bytes32 resultId;
        bytes32 layerRoot;
        uint64 layerCount;
        bytes signature;
    }

    /// A receipt, ABI form (`status`: 0 accepted, 1 challengeable, 2 disputed, 3 rejected).
    #[derive(Debug, PartialEq)]
    struct ReceiptAbi {
        uint8 version;
        uint64 chainId;
        uint64 job;
        string model;
        bytes32 inputHash;
        bytes32 outputHash;
        bytes32 resultId;
        string engineId;
        bytes32 layerRoot;
        uint64 layerCount;
        GuaranteeAbi guarantee;
        AttestationAbi[] attestations;
        uint8 status;
        bool included;
        uint64 blockNumber;
        bytes32 blockHash;
        bytes32 txHash;
    }
}

impl Receipt {
    /// A receipt for a job served by one party on its own (VANILLA, no bond locked): the node itself
    /// when no operator is registered, or `ogn infer --receipt` on a workstation. Its guarantee says so:
    /// catch probability 0 until someone re-executes (`ogn verify --reexecute`).
    pub fn self_served(
        signer: &PrivateKeySigner,
        chain_id: u64,
        job: u64,
        model: ModelCid,
        execution: &crate::execution::Execution,
        price: u128,
    ) -> Self {
        let statement = Statement {
            chain_id,
            job,
            model,
            input_hash: execution.input_hash,
            output_hash: execution.output_hash,
            result_id: execution.result_id,
            engine_id: execution.engine_id.clone(),
            commitment: execution.commitment(),
        };
        let params = crate::guarantee::GuaranteeParams { base_price: price, ..Default::default() };
        let guarantee = quote(Mode::Vanilla, 0, 0, &params).expect("VANILLA always quotes");
        Receipt {
            version: RECEIPT_VERSION,
            chain_id,
            job,
            model,
            input_hash: statement.input_hash,
            output_hash: statement.output_hash,
            result_id: statement.result_id,
            engine_id: statement.engine_id.clone(),
            commitment: statement.commitment,
            guarantee,
            attestations: vec![statement.sign(signer)],
            status: Status::Challengeable,
            inclusion: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commitment::{StateTree, chain_states};
    use crate::dispute::RunEvidence;
    use crate::execution::Execution;
    use ogn_types::TensorData;

    fn receipt() -> (Receipt, Vec<Tensor>, Vec<Tensor>) {
        let model = ModelCid::for_bytes(b"model");
        let inputs = vec![Tensor::new("x", vec![2], TensorData::F32(vec![1.0, 2.0])).unwrap()];
        let outputs = vec![Tensor::new("y", vec![1], TensorData::F32(vec![3.0])).unwrap()];
        let states = chain_states(B256::ZERO, &[[1; 32], [2; 32]], tensors_hash(&outputs));
        let exec = Execution {
            outputs: outputs.clone(),
            input_hash: tensors_hash(&inputs),
            output_hash: tensors_hash(&outputs),
            result_id: canonical::result_id(&model, &inputs, &outputs, "engine"),
            engine_id: "engine".into(),
            evidence: RunEvidence {
                layout: ogn_runtime::CutLayout { steps: 2, cuts: vec![] },
                tree: StateTree::new(states),
                leaves: vec![Some(B256::repeat_byte(1)), Some(B256::repeat_byte(2))],
                genesis: B256::ZERO,
            },
        };
        let signer = PrivateKeySigner::from_bytes(&B256::repeat_byte(5)).unwrap();
        (Receipt::self_served(&signer, 7, 9, model, &exec, 1_000), inputs, outputs)
    }

    #[test]
    fn a_receipt_checks_in_json_and_abi_and_any_change_is_caught() {
        let (r, inputs, outputs) = receipt();
        r.check_tensors(&inputs, &outputs).unwrap();
        let json: Receipt = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(json, r);
        let abi = Receipt::from_abi(&r.to_abi()).unwrap();
        assert_eq!(abi, r);
        abi.check().unwrap();

        let mut bad = r.clone();
        bad.output_hash.0[0] ^= 1;
        assert!(matches!(bad.check(), Err(ReceiptError::Disagrees { field: "output hash", .. })));
        bad.attestations[0].output_hash = bad.output_hash;
        assert!(matches!(bad.check(), Err(ReceiptError::BadSignature { .. })));
        let mut bad = r.clone();
        bad.job += 1;
        assert!(matches!(bad.check(), Err(ReceiptError::BadSignature { .. })));
        let mut bad = r.clone();
        bad.attestations[0].commitment.count += 1;
        assert!(bad.check().is_err());
        let mut bad = r.clone();
        bad.guarantee.catch_ppm = 500_000;
        assert!(matches!(bad.check(), Err(ReceiptError::Guarantee { .. })));
        let mut bad = r.clone();
        bad.attestations[0].signature = Bytes::from(vec![0u8; 65]);
        assert!(matches!(bad.check(), Err(ReceiptError::BadSignature { .. })));
        let mut bad = r.clone();
        bad.version = 2;
        assert!(matches!(bad.check(), Err(ReceiptError::Version(2))));
        assert!(matches!(
            r.check_tensors(&outputs, &outputs),
            Err(ReceiptError::Tensors("input hash"))
        ));
        assert!(Receipt::from_abi(&r.to_abi()[..100]).is_err());
    }
}
