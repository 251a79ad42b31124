// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IComputeEscrow
/// @notice Prepaid balances and payer→provider payment channels for gridspot compute.
/// @dev Money moves to a provider only on a `Voucher{channelId, cumulativeAmount}` that the channel's
/// payer signed (EIP-712, domain name "gridspot", version "1"). Vouchers are cumulative: redeeming one
/// pays the difference to what the channel has already redeemed, so replaying a voucher pays nothing.
interface IComputeEscrow {
    /// @notice A channel's life: `Open` → (`Closing`) → `Closed`.
    enum ChannelStatus {
        None,
        Open,
        Closing,
        Closed
    }

    /// @notice A channel as stored. `deadline` is the end of the provider's redemption window:
    /// `expiry + challengePeriod()` while open, and no later than `requestClose` time +
    /// `challengePeriod()` once the payer asked to close.
    struct Channel {
        address payer;
        uint40 expiry;
        uint40 deadline;
        ChannelStatus status;
        address provider;
        uint16 feeBps;
        uint128 amount;
        uint128 redeemed;
    }

    /// @notice One voucher to redeem in `redeemBatch`, with the payer's EIP-2098 compact signature.
    struct SignedVoucher {
        uint256 channelId;
        uint256 cumulativeAmount;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice The amount is zero or does not fit the channel's 128-bit accounting.
    error Escrow_InvalidAmount(uint256 amount);
    /// @notice `account` has `available` free, less than the `requested` amount.
    error Escrow_InsufficientBalance(address account, uint256 available, uint256 requested);
    /// @notice The token delivered a different amount than transferred (fee-on-transfer tokens are
    /// not supported).
    error Escrow_TransferAmountMismatch(uint256 expected, uint256 received);
    /// @notice Neither a valid permit nor an allowance of `amount` was given.
    error Escrow_PermitFailed(uint256 amount);
    /// @notice The provider is the zero address or the payer itself.
    error Escrow_InvalidProvider(address provider);
    /// @notice The expiry is not in the future or does not fit 40 bits.
    error Escrow_InvalidExpiry(uint256 expiry);
    /// @notice No channel has this id.
    error Escrow_ChannelNotFound(uint256 channelId);
    /// @notice The channel is not in a state that allows this call.
    error Escrow_InvalidChannelStatus(uint256 channelId, ChannelStatus status);
    /// @notice Only the channel's payer (or provider, where named) may call this.
    error Escrow_Unauthorized(uint256 channelId, address caller);
    /// @notice The channel expired at `expiry`; it can no longer be funded.
    error Escrow_ChannelExpired(uint256 channelId, uint256 expiry);
    /// @notice The provider's redemption window ended at `deadline`.
    error Escrow_RedeemWindowOver(uint256 channelId, uint256 deadline);
    /// @notice The challenge window runs until `deadline`; the channel cannot be finalized yet.
    error Escrow_ChallengeWindowOpen(uint256 channelId, uint256 deadline);
    /// @notice The voucher's cumulative amount is not above what the channel already redeemed.
    error Escrow_NothingToRedeem(uint256 channelId, uint256 cumulativeAmount, uint256 redeemed);
    /// @notice The voucher's cumulative amount is above the channel's funded amount.
    error Escrow_AmountExceedsChannel(uint256 channelId, uint256 cumulativeAmount, uint256 amount);
    /// @notice The signature is malformed or not the payer's.
    error Escrow_InvalidSignature(uint256 channelId);
    /// @notice The fee is above `MAX_FEE_BPS`.
    error Escrow_FeeTooHigh(uint256 feeBps);
    /// @notice The fee recipient is the zero address.
    error Escrow_InvalidFeeRecipient();
    /// @notice The challenge period is zero or above 2^32 − 1 seconds.
    error Escrow_InvalidChallengePeriod(uint256 challengePeriod);
    /// @notice The batch is empty.
    error Escrow_EmptyBatch();

    /// @notice `account` deposited `amount` into its free balance.
    event Deposited(address indexed account, uint256 amount);
    /// @notice `account` withdrew `amount` from its free balance.
    event Withdrawn(address indexed account, uint256 amount);
    /// @notice A channel was opened with `amount` locked from the payer's free balance.
    event ChannelOpened(
        uint256 indexed channelId,
        address indexed payer,
        address indexed provider,
        uint256 amount,
        uint256 expiry,
        uint256 feeBps
    );
    /// @notice The payer locked `amount` more in the channel; `total` is the new channel amount.
    event ChannelFunded(uint256 indexed channelId, uint256 amount, uint256 total);
    /// @notice The payer moved the channel's expiry to `expiry`.
    event ChannelExtended(uint256 indexed channelId, uint256 expiry);
    /// @notice A voucher for `cumulativeAmount` was redeemed and `paid` went to the channel's provider.
    /// The protocol's share of the difference stays with the channel until it closes.
    event Redeemed(uint256 indexed channelId, uint256 cumulativeAmount, uint256 paid);
    /// @notice `redeemBatch` passed over a voucher for `cumulativeAmount` because the channel had
    /// already redeemed `redeemed` ≥ it (another transaction got there first): nothing was paid for it.
    event RedeemSkipped(uint256 indexed channelId, uint256 cumulativeAmount, uint256 redeemed);
    /// @notice The payer asked to close; the provider may redeem until `deadline`.
    event CloseRequested(uint256 indexed channelId, uint256 deadline);
    /// @notice The channel closed: `refund` returned to the payer's free balance and the channel's
    /// protocol fee, `fee`, was added to the accrued fees.
    event ChannelClosed(uint256 indexed channelId, address indexed closedBy, uint256 refund, uint256 fee);
    /// @notice Accrued protocol fees of `amount` went to `recipient`.
    event FeesClaimed(address indexed recipient, uint256 amount);
    /// @notice The protocol fee for channels opened from now on is `feeBps`.
    event FeeChanged(uint256 feeBps);
    /// @notice Fees go to `recipient` from now on.
    event FeeRecipientChanged(address indexed recipient);

    /// @notice Moves `amount` tokens from the caller into its free balance (needs an allowance).
    function deposit(uint256 amount) external;

    /// @notice `deposit` with an ERC-2612 permit, in one transaction. A permit that was already used
    /// (for example front-run) is fine as long as the allowance covers `amount`.
    function depositWithPermit(uint256 amount, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s) external;

    /// @notice Sends `amount` of the caller's free balance back to the caller.
    function withdraw(uint256 amount) external;

    /// @notice Locks `amount` of the caller's free balance in a new channel to `provider`.
    /// @param provider Who may redeem the caller's vouchers on this channel.
    /// @param amount Locked amount, the most the provider can ever be paid from this channel.
    /// @param expiry When the channel stops taking funds; the provider may redeem until
    /// `expiry + challengePeriod()`, after which the payer may finalize.
    /// @return channelId The new channel's id.
    function openChannel(address provider, uint256 amount, uint256 expiry) external returns (uint256 channelId);

    /// @notice Locks `amount` more of the payer's free balance in an open, unexpired channel (payer only).
    function fundChannel(uint256 channelId, uint256 amount) external;

    /// @notice Moves an open channel's expiry later (payer only).
    function extendChannel(uint256 channelId, uint256 newExpiry) external;

    /// @notice Pays the provider what `cumulativeAmount` adds to the channel's redeemed amount, less
    /// the channel's fee: `net(cumulativeAmount) − net(redeemed)` with `net(x) = x − ⌊x · feeBps / 10 000⌋`,
    /// so the fee is rounded once on the cumulative total, never per redemption. Anyone may submit
    /// it; the money always goes to the channel's provider.
    /// @param r The `r` of the payer's EIP-712 signature of the voucher (EIP-2098 compact form).
    /// @param vs The signature's s with the parity of y in its top bit (EIP-2098); s must be low.
    function redeem(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external;

    /// @notice Redeems many vouchers in one transaction and pays each provider once. A voucher at or
    /// below what its channel has already redeemed is skipped (`RedeemSkipped`), so one redemption
    /// that landed first (by the provider itself, a restart, a reorg replay) never sinks the batch.
    /// Reverts whole when any other voucher is invalid (signature, channel, window, amount).
    function redeemBatch(SignedVoucher[] calldata vouchers) external;

    /// @notice Closes the channel at once (provider only) and returns what was not redeemed to the
    /// payer's free balance. The provider gives up any voucher not yet redeemed. The channel's fee,
    /// ⌊redeemed · feeBps / 10 000⌋, moves to the accrued fees (the same on every way to close).
    function closeChannel(uint256 channelId) external;

    /// @notice Starts closing the channel (payer only): the provider may still redeem until
    /// `block.timestamp + challengePeriod()` (or the channel's expiry deadline, if earlier).
    function requestClose(uint256 channelId) external;

    /// @notice Once the redemption window is over, returns what was not redeemed to the payer's
    /// free balance. Anyone may call it then: the outcome is fixed, and the fee recipient can collect
    /// the fees of channels nobody closed. Covers both a requested close and an expired channel.
    function finalizeClose(uint256 channelId) external;

    /// @notice Sends the accrued protocol fees to the fee recipient (anyone may call).
    function claimFees() external;

    /// @notice Sets the fee, in basis points, for channels opened from now on (owner only).
    function setFeeBps(uint256 feeBps_) external;

    /// @notice Sets who receives the protocol fees (owner only).
    function setFeeRecipient(address recipient) external;

    /// @notice The token this escrow holds.
    function token() external view returns (address);

    /// @notice `account`'s free (withdrawable) balance.
    function freeBalance(address account) external view returns (uint256);

    /// @notice The channel with `channelId` (all zero when it does not exist).
    function getChannel(uint256 channelId) external view returns (Channel memory);

    /// @notice The id the next channel will get minus one: channel ids run from 1 to this value.
    function lastChannelId() external view returns (uint256);

    /// @notice Seconds the provider has to redeem after a close request or expiry.
    function challengePeriod() external view returns (uint256);

    /// @notice The fee for new channels, in basis points.
    function feeBps() external view returns (uint256);

    /// @notice Who receives the protocol fees.
    function feeRecipient() external view returns (address);

    /// @notice Protocol fees of closed channels not yet claimed (open channels hold theirs until they close).
    function accruedFees() external view returns (uint256);

    /// @notice The EIP-712 digest a payer signs for this voucher.
    function voucherDigest(uint256 channelId, uint256 cumulativeAmount) external view returns (bytes32);
}
