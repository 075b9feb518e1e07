//! OPG supply and balances. Every mint and burn is explicit; the total supply identity is
//!
//! ```text
//! genesis + minted − burned = Σ balances + Σ bonded + Σ unbonding + incentive pool + fee collector
//!                             + Σ staker reward pools + treasury + dust + stOPG buffer
//! ```

use serde::{Deserialize, Serialize};

use crate::{Ledger, LedgerError, address::Address, distribution::BySource, event::Event};

/// Total supply bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supply {
    /// Created at genesis (balances plus the incentive pool).
    pub genesis: u128,
    /// Minted since (inflation curve).
    pub minted: u128,
    /// Burned since (slashing, fee burns).
    pub burned: u128,
}

impl Supply {
    /// `genesis + minted − burned`.
    pub fn total(&self) -> u128 {
        self.genesis + self.minted - self.burned
    }
}

/// Tokens held by the protocol rather than by an account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pools {
    /// What remains of the decaying incentive pool.
    pub incentive: u128,
    /// Rewards collected this block, waiting for [`Ledger::end_block`] to distribute them by stake (plus any
    /// rounding remainder carried from earlier blocks).
    pub fee_collector: BySource,
    /// Treasury (the protocol cut of fees, when not burned).
    pub treasury: u128,
    /// Rounding dust: never paid out, never lost.
    pub dust: u128,
    /// OPG held by the liquid staking pool and not delegated yet.
    pub lst_buffer: u128,
}

impl Ledger {
    /// An account's liquid OPG.
    pub fn balance(&self, account: Address) -> u128 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    pub(crate) fn check_user(&self, account: Address) -> Result<(), LedgerError> {
        if account.is_reserved() {
            return Err(LedgerError::ReservedAddress(account));
        }
        Ok(())
    }

    pub(crate) fn check_balance(&self, account: Address, needed: u128) -> Result<(), LedgerError> {
        let available = self.balance(account);
        if available < needed {
            return Err(LedgerError::InsufficientBalance { account, needed, available });
        }
        Ok(())
    }

    pub(crate) fn credit(&mut self, account: Address, amount: u128) {
        if amount > 0 {
            *self.balances.entry_or_default(account) += amount;
        }
    }

    pub(crate) fn debit(&mut self, account: Address, amount: u128) -> Result<(), LedgerError> {
        // One lookup for the check and the update.
        let Some(b) = self.balances.get_mut(&account) else {
            if amount == 0 {
                return Ok(());
            }
            return Err(LedgerError::InsufficientBalance { account, needed: amount, available: 0 });
        };
        if *b < amount {
            return Err(LedgerError::InsufficientBalance {
                account,
                needed: amount,
                available: *b,
            });
        }
        *b -= amount;
        if *b == 0 {
            self.balances.remove(&account);
        }
        Ok(())
    }

    pub(crate) fn burn(&mut self, amount: u128) {
        self.supply.burned += amount;
    }

    /// Moves OPG between accounts.
    pub fn transfer(
        &mut self,
        from: Address,
        to: Address,
        amount: u128,
    ) -> Result<(), LedgerError> {
        self.check_user(from)?;
        self.check_user(to)?;
        if amount == 0 {
            return Err(LedgerError::ZeroAmount);
        }
        self.debit(from, amount)?;
        self.credit(to, amount);
        self.emit(Event::Transfer { from, to, amount });
        Ok(())
    }

    /// Total supply: `genesis + minted − burned`.
    pub fn total_supply(&self) -> u128 {
        self.supply.total()
    }

    /// Supply bookkeeping.
    pub fn supply(&self) -> &Supply {
        &self.supply
    }

    /// Protocol-held pools.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }
}
