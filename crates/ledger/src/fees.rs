//! Fees: inference fees split four ways, transaction base fees and tips.
//!
//! ```text
//!  inference fee F ─┬─ operator_ppm   ──► operator: commission to owner, rest to its delegators (F1)
//!                   ├─ verifiers_ppm  ──► verifiers, equal parts (remainder → dust account)
//!                   ├─ protocol_ppm   ──► treasury or burn
//!                   └─ the remainder  ──► fee collector ──end_block──► validators by stake (F1)
//!  base fee B ──┬─ base_fee_burn_ppm ──► burn
//!               └─ the rest          ──► fee collector ──end_block──► validators by stake
//!  tip T ──────────────────────────────► the block proposer (commission, then its delegators)
//! ```
//! Each part is rounded down except the validators' part, which takes the remainder, so the split is exact.

use crate::{
    Ledger, LedgerError,
    address::Address,
    distribution::RewardSource,
    event::{DustSource, Event},
    math::ppm_of,
    params::ProtocolCut,
    staking::Role,
};

impl Ledger {
    pub(crate) fn check_active(&self, staker: Address, role: Role) -> Result<(), LedgerError> {
        let s = self.staker(staker)?;
        if s.role != role {
            return Err(LedgerError::WrongRole { staker, expected: role, actual: s.role });
        }
        if s.tombstoned {
            return Err(LedgerError::StakerTombstoned(staker));
        }
        if let Some(until) = s.jailed_until {
            return Err(LedgerError::StakerJailed { staker, until });
        }
        if s.tokens == 0 {
            return Err(LedgerError::StakerInsolvent(staker));
        }
        Ok(())
    }

    /// Pays an inference fee from `payer` for a job served by `operator` and checked by `verifiers` (may be
    /// empty: then the verifiers' part goes to validators). The operator must be an active operator.
    pub fn pay_inference_fee(
        &mut self,
        payer: Address,
        operator: Address,
        verifiers: &[Address],
        amount: u128,
    ) -> Result<(), LedgerError> {
        self.check_user(payer)?;
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        for v in verifiers {
            self.check_user(*v)?;
        }
        self.check_active(operator, Role::Operator)?;
        let split = self.params.fee_split.clone();
        let to_operator = ppm_of(amount, split.operator_ppm);
        let to_verifiers =
            if verifiers.is_empty() { 0 } else { ppm_of(amount, split.verifiers_ppm) };
        let to_protocol = ppm_of(amount, split.protocol_ppm);
        let to_validators = amount - to_operator - to_verifiers - to_protocol;
        // The first change: it fails (insufficient balance) before anything moves.
        self.debit(payer, amount)?;
        self.allocate(operator, RewardSource::InferenceFees, to_operator);
        if !verifiers.is_empty() {
            let n = verifiers.len() as u128;
            let each = to_verifiers / n;
            for v in verifiers {
                self.credit(*v, each);
            }
            let dust = to_verifiers - each * n;
            if dust > 0 {
                self.pools.dust += dust;
                self.emit(Event::Dust { source: DustSource::VerifierSplit, amount: dust });
            }
        }
        self.pools.fee_collector.inference_fees += to_validators;
        match split.protocol_cut {
            ProtocolCut::Treasury => self.pools.treasury += to_protocol,
            ProtocolCut::Burn => {
                self.burn(to_protocol);
                self.stats.fees_burned += to_protocol;
            }
        }
        self.stats.inference_fees += amount;
        self.stats.verifier_fees += to_verifiers;
        self.emit(Event::InferenceFeePaid {
            payer,
            operator,
            amount,
            to_operator,
            to_verifiers,
            to_validators,
            to_protocol,
        });
        Ok(())
    }

    /// Pays a transaction's base fee (burned in part, the rest to validators at the end of the block) and its
    /// tip (to `proposer`, which must be an active validator when the tip is positive).
    pub fn pay_tx_fee(
        &mut self,
        payer: Address,
        base_fee: u128,
        tip: u128,
        proposer: Address,
    ) -> Result<(), LedgerError> {
        self.check_user(payer)?;
        let total = base_fee.checked_add(tip).ok_or(LedgerError::Overflow("fee"))?;
        if total == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        if tip > 0 {
            self.check_active(proposer, Role::Validator)?;
        }
        self.debit(payer, total)?;
        let burned = ppm_of(base_fee, self.params.base_fee_burn_ppm);
        self.burn(burned);
        self.stats.fees_burned += burned;
        self.pools.fee_collector.tx_fees += base_fee - burned;
        self.allocate(proposer, RewardSource::TxFees, tip);
        self.stats.base_fees += base_fee;
        self.stats.tips += tip;
        self.emit(Event::TxFeePaid { payer, base_fee, tip, burned });
        Ok(())
    }
}
