// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.20;

/// @title ogn staking precompile
/// @notice Native precompile at 0x0000000000000000000000000000000000000100 running the ogn-ledger
///         accounting (validators, inference operators, delegation, the stOPG liquid staking pool,
///         rewards by source). Call it directly (DELEGATECALL/CALLCODE revert).
/// @dev    Amounts are wei of OPG (10^-18 OPG); rates are parts per million (1,000,000 = 100 %).
///         Heights are block numbers. Every refusal reverts with Error(string) carrying the ledger's
///         reason (for example "no validator or operator at 0x…", "… holds X but Y is needed") and
///         changes nothing; msg.value on a non-payable function reverts.
///         Bonded OPG is held by the precompile's own balance; the ledger state lives in its storage
///         (slot 0 = byte length, slots 1.. = the JSON encoding in 32-byte words), so the block's
///         state root covers it. Rewards and unbonding advance at every block boundary
///         (Ledger::begin_block before the block's transactions, Ledger::end_block after them).
///         Anything the ledger pays (rewards, commission, matured unbonding) arrives as native OPG.
interface IStaking {
    // ----- actions -----

    /// Registers msg.sender as a validator with self-bond msg.value (≥ the validator minimum) and a
    /// commission within [min, max].
    function createValidator(uint32 commissionPpm) external payable;

    /// Registers msg.sender as an inference operator with self-bond msg.value (≥ the operator minimum).
    function createOperator(uint32 commissionPpm) external payable;

    /// Bonds msg.value to an active validator or operator; returns the shares issued.
    function delegate(address staker) external payable returns (uint256 shares);

    /// Starts unbonding `amount` of msg.sender's delegation; paid after the unbonding period.
    function undelegate(address staker, uint256 amount) external returns (uint64 entryId);

    /// Moves `amount` of a delegation from one staker to another at once.
    function redelegate(address from, address to, uint256 amount) external returns (uint64 entryId);

    /// Pays msg.sender's accrued rewards from one staker, per source.
    function withdrawRewards(address staker)
        external
        returns (uint256 inferenceFees, uint256 emissions, uint256 txFees);

    /// Changes msg.sender's commission (at most the daily step, once a day).
    function setCommission(uint32 commissionPpm) external;

    /// Releases msg.sender from jail once its term is over.
    function unjail() external;

    /// Deposits msg.value into the liquid staking pool; mints stOPG at the pool's rate.
    function lstDeposit() external payable returns (uint256 stOpgMinted);

    /// Burns stOPG; the OPG it is worth enters the unbonding queue.
    function lstRedeem(uint256 stOpgAmount) external returns (uint256 opgQueued);

    /// Transfers stOPG.
    function lstTransfer(address to, uint256 stOpgAmount) external;

    // ----- views -----

    /// Value of a delegation in OPG.
    function stakeOf(address delegator, address staker) external view returns (uint256 amount);

    /// Accrued, unpaid rewards of a delegation, per source.
    function pendingRewards(address delegator, address staker)
        external
        view
        returns (uint256 inferenceFees, uint256 emissions, uint256 txFees);

    /// A staker (exists = false for an unknown address).
    function stakerInfo(address staker)
        external
        view
        returns (bool exists, bool isOperator, uint256 tokens, uint32 commissionPpm, bool jailed, uint256 delegators);

    /// Every validator and operator, in address order.
    function stakers() external view returns (address[] memory);

    /// stOPG held by an account.
    function stOpgBalanceOf(address account) external view returns (uint256);

    /// The liquid staking pool's value, stOPG supply and OPG per stOPG (scaled by 10^18).
    function lstRate() external view returns (uint256 opg, uint256 stOpg, uint256 opgPerStOpgE18);

    /// The stOPG exit queue and the height a redemption made now would pay out.
    function exitQueue() external view returns (uint256 entries, uint256 amount, uint64 expectedExitHeight);

    /// Network-wide: total bonded; nominal yield and real yield from fees alone (annualized over the
    /// ledger's life, ppm of bonded); subsidy ratio (share of rewards paid by emissions, ppm); what
    /// remains of the incentive pool; blocks until it halves; the ledger height.
    function networkStats()
        external
        view
        returns (
            uint256 totalBonded,
            uint256 nominalYieldPpm,
            uint256 feeYieldPpm,
            uint256 subsidyRatioPpm,
            uint256 incentivePool,
            uint64 runwayBlocks,
            uint64 height
        );

    /// Block-boundary hook; only callable by block execution (caller 0xffff…fffe).
    function systemBlock(uint64 number, bool end) external;

    /// Emitted by every successful action: action = the function selector, value = msg.value.
    event StakingCall(address indexed caller, bytes4 indexed action, uint256 value);
}
