// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {IComputeEscrow} from "./interfaces/IComputeEscrow.sol";

/// @title ComputeEscrow
/// @notice Prepaid balances and payer→provider channels, settled with cumulative EIP-712 vouchers.
/// @dev Accounting invariant: token.balanceOf(this) == Σ free balances + Σ (amount − redeemed) over
/// all channels + Σ fee(redeemed) over channels not closed + accrued fees, where
/// fee(x) = ⌊x · feeBps / 10 000⌋ (tokens sent here without `deposit` are surplus nobody can claim).
/// A closed channel keeps `amount == redeemed` and has moved its fee to the accrued fees.
/// Rounding: the fee is taken once, on the channel's cumulative redeemed amount, rounded down: the
/// provider is paid net(cum) − net(prev) per redemption, so fees never accumulate rounding and the
/// provider never gets less than its share. Keeping the fee in the channel until it closes also
/// spares every redemption a storage write (the gas benchmark's redeemUpdate and batch figures).
contract ComputeEscrow is IComputeEscrow, EIP712, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The highest protocol fee: 10 %.
    uint256 public constant MAX_FEE_BPS = 1000;
    uint256 private constant _BPS = 10_000;
    bytes32 private constant _VOUCHER_TYPEHASH = keccak256("Voucher(uint256 channelId,uint256 cumulativeAmount)");

    IERC20 private immutable _token;
    uint256 private immutable _challengePeriod;
    uint256 private _feeBps;
    address private _feeRecipient;
    uint256 private _accruedFees;
    uint256 private _lastChannelId;
    mapping(address account => uint256) private _free;
    mapping(uint256 channelId => Channel) private _channels;

    /// @param token_ The token held (GRID); it must transfer exact amounts.
    /// @param challengePeriod_ Seconds the provider keeps to redeem after a close request or expiry.
    /// @param feeBps_ Protocol fee for new channels, in basis points (at most `MAX_FEE_BPS`).
    /// @param feeRecipient_ Receives the protocol fees.
    /// @param owner_ May change the fee and its recipient (two-step ownership transfer).
    constructor(IERC20 token_, uint256 challengePeriod_, uint256 feeBps_, address feeRecipient_, address owner_)
        EIP712("gridspot", "1")
        Ownable(owner_)
    {
        // Bounded so that expiry + challenge period can never overflow the 40-bit deadline checks.
        if (challengePeriod_ == 0 || challengePeriod_ > type(uint32).max) {
            revert Escrow_InvalidChallengePeriod(challengePeriod_);
        }
        _token = token_;
        _challengePeriod = challengePeriod_;
        _setFeeBps(feeBps_);
        _setFeeRecipient(feeRecipient_);
    }

    /// @inheritdoc IComputeEscrow
    function deposit(uint256 amount) external nonReentrant {
        _deposit(amount);
    }

    /// @inheritdoc IComputeEscrow
    function depositWithPermit(uint256 amount, uint256 permitDeadline, uint8 v, bytes32 r, bytes32 s)
        external
        nonReentrant
    {
        // A front-runner may have used the permit already; the allowance it set still counts.
        try IERC20Permit(address(_token)).permit(msg.sender, address(this), amount, permitDeadline, v, r, s) {}
        catch {
            if (_token.allowance(msg.sender, address(this)) < amount) revert Escrow_PermitFailed(amount);
        }
        _deposit(amount);
    }

    /// @inheritdoc IComputeEscrow
    function withdraw(uint256 amount) external nonReentrant {
        // Checks
        if (amount == 0) revert Escrow_InvalidAmount(amount);
        _debitFree(msg.sender, amount);
        // Effects
        emit Withdrawn(msg.sender, amount);
        // Interactions
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IComputeEscrow
    function openChannel(address provider, uint256 amount, uint256 expiry)
        external
        nonReentrant
        returns (uint256 channelId)
    {
        // Checks
        if (provider == address(0) || provider == msg.sender) revert Escrow_InvalidProvider(provider);
        if (amount == 0 || amount > type(uint128).max) revert Escrow_InvalidAmount(amount);
        // Range first, then the sum: a huge expiry must not overflow into a panic.
        if (expiry <= block.timestamp || expiry > type(uint40).max) revert Escrow_InvalidExpiry(expiry);
        uint256 deadline = expiry + _challengePeriod;
        if (deadline > type(uint40).max) revert Escrow_InvalidExpiry(expiry);
        _debitFree(msg.sender, amount);
        // Effects
        channelId = ++_lastChannelId;
        uint256 fee = _feeBps;
        _channels[channelId] = Channel({
            payer: msg.sender,
            expiry: uint40(expiry),
            deadline: uint40(deadline),
            status: ChannelStatus.Open,
            provider: provider,
            feeBps: uint16(fee),
            amount: uint128(amount),
            redeemed: 0
        });
        emit ChannelOpened(channelId, msg.sender, provider, amount, expiry, fee);
    }

    /// @inheritdoc IComputeEscrow
    function fundChannel(uint256 channelId, uint256 amount) external nonReentrant {
        // Checks
        Channel storage c = _payerChannel(channelId);
        _requireStatus(channelId, c.status, ChannelStatus.Open);
        if (block.timestamp >= c.expiry) revert Escrow_ChannelExpired(channelId, c.expiry);
        if (amount == 0 || amount > type(uint128).max - c.amount) revert Escrow_InvalidAmount(amount);
        uint256 total = uint256(c.amount) + amount;
        _debitFree(msg.sender, amount);
        // Effects
        c.amount = uint128(total);
        emit ChannelFunded(channelId, amount, total);
    }

    /// @inheritdoc IComputeEscrow
    function extendChannel(uint256 channelId, uint256 newExpiry) external nonReentrant {
        // Checks
        Channel storage c = _payerChannel(channelId);
        _requireStatus(channelId, c.status, ChannelStatus.Open);
        // Once the redemption window of an expired channel is over, the payer may finalize it and
        // nothing may bring it back.
        if (block.timestamp >= c.deadline) revert Escrow_RedeemWindowOver(channelId, c.deadline);
        if (newExpiry <= c.expiry || newExpiry > type(uint40).max) revert Escrow_InvalidExpiry(newExpiry);
        uint256 deadline = newExpiry + _challengePeriod;
        if (deadline > type(uint40).max) revert Escrow_InvalidExpiry(newExpiry);
        // Effects
        c.expiry = uint40(newExpiry);
        c.deadline = uint40(deadline);
        emit ChannelExtended(channelId, newExpiry);
    }

    /// @inheritdoc IComputeEscrow
    function redeem(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs) external nonReentrant {
        // Checks and Effects
        (address provider, uint256 paid) = _redeem(channelId, cumulativeAmount, r, vs);
        // Interactions
        if (paid != 0) _token.safeTransfer(provider, paid);
    }

    /// @inheritdoc IComputeEscrow
    function redeemBatch(SignedVoucher[] calldata vouchers) external nonReentrant {
        uint256 n = vouchers.length;
        if (n == 0) revert Escrow_EmptyBatch();
        // One payment per distinct provider: a provider's redeemer batches its own channels, so
        // the search almost always hits the last payee.
        address[] memory payees = new address[](n);
        uint256[] memory amounts = new uint256[](n);
        uint256 payeeCount;
        for (uint256 i; i < n; ++i) {
            SignedVoucher calldata v = vouchers[i];
            // Checks: already paid up to this voucher (or beyond) is nothing to do, not an error.
            uint256 redeemed = _channels[v.channelId].redeemed;
            if (v.cumulativeAmount <= redeemed) {
                emit RedeemSkipped(v.channelId, v.cumulativeAmount, redeemed);
                continue;
            }
            (address provider, uint256 paid) = _redeem(v.channelId, v.cumulativeAmount, v.r, v.vs);
            uint256 j = payeeCount;
            while (j != 0 && payees[j - 1] != provider) --j;
            if (j == 0) {
                payees[payeeCount] = provider;
                amounts[payeeCount] = paid;
                ++payeeCount;
            } else {
                amounts[j - 1] += paid;
            }
        }
        // Interactions
        for (uint256 j; j < payeeCount; ++j) {
            if (amounts[j] != 0) _token.safeTransfer(payees[j], amounts[j]);
        }
    }

    /// @inheritdoc IComputeEscrow
    function closeChannel(uint256 channelId) external nonReentrant {
        Channel storage c = _existing(channelId);
        if (msg.sender != c.provider) revert Escrow_Unauthorized(channelId, msg.sender);
        _requireOpenOrClosing(channelId, c.status);
        _settle(channelId, c);
    }

    /// @inheritdoc IComputeEscrow
    function requestClose(uint256 channelId) external nonReentrant {
        Channel storage c = _payerChannel(channelId);
        _requireStatus(channelId, c.status, ChannelStatus.Open);
        uint256 deadline = block.timestamp + _challengePeriod;
        // An expiry deadline that comes first stays: asking to close never gives the provider longer.
        if (deadline < c.deadline) c.deadline = uint40(deadline);
        c.status = ChannelStatus.Closing;
        emit CloseRequested(channelId, c.deadline);
    }

    /// @inheritdoc IComputeEscrow
    function finalizeClose(uint256 channelId) external nonReentrant {
        Channel storage c = _existing(channelId);
        _requireOpenOrClosing(channelId, c.status);
        if (block.timestamp < c.deadline) revert Escrow_ChallengeWindowOpen(channelId, c.deadline);
        _settle(channelId, c);
    }

    /// @inheritdoc IComputeEscrow
    function claimFees() external nonReentrant {
        uint256 amount = _accruedFees;
        if (amount == 0) revert Escrow_InvalidAmount(0);
        address recipient = _feeRecipient;
        _accruedFees = 0;
        emit FeesClaimed(recipient, amount);
        _token.safeTransfer(recipient, amount);
    }

    /// @inheritdoc IComputeEscrow
    function setFeeBps(uint256 feeBps_) external onlyOwner {
        _setFeeBps(feeBps_);
    }

    /// @inheritdoc IComputeEscrow
    function setFeeRecipient(address recipient) external onlyOwner {
        _setFeeRecipient(recipient);
    }

    /// @inheritdoc IComputeEscrow
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IComputeEscrow
    function freeBalance(address account) external view returns (uint256) {
        return _free[account];
    }

    /// @inheritdoc IComputeEscrow
    function getChannel(uint256 channelId) external view returns (Channel memory) {
        return _channels[channelId];
    }

    /// @inheritdoc IComputeEscrow
    function lastChannelId() external view returns (uint256) {
        return _lastChannelId;
    }

    /// @inheritdoc IComputeEscrow
    function challengePeriod() external view returns (uint256) {
        return _challengePeriod;
    }

    /// @inheritdoc IComputeEscrow
    function feeBps() external view returns (uint256) {
        return _feeBps;
    }

    /// @inheritdoc IComputeEscrow
    function feeRecipient() external view returns (address) {
        return _feeRecipient;
    }

    /// @inheritdoc IComputeEscrow
    function accruedFees() external view returns (uint256) {
        return _accruedFees;
    }

    /// @inheritdoc IComputeEscrow
    function voucherDigest(uint256 channelId, uint256 cumulativeAmount) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(_VOUCHER_TYPEHASH, channelId, cumulativeAmount)));
    }

    /// @dev Checks a voucher and records it; returns what to pay whom. Transfers are the caller's.
    function _redeem(uint256 channelId, uint256 cumulativeAmount, bytes32 r, bytes32 vs)
        private
        returns (address provider, uint256 paid)
    {
        Channel storage c = _channels[channelId];
        // Checks
        _requireOpenOrClosing(channelId, c.status);
        if (block.timestamp >= c.deadline) revert Escrow_RedeemWindowOver(channelId, c.deadline);
        uint256 redeemed = c.redeemed;
        uint256 amount = c.amount;
        if (cumulativeAmount <= redeemed) revert Escrow_NothingToRedeem(channelId, cumulativeAmount, redeemed);
        if (cumulativeAmount > amount) revert Escrow_AmountExceedsChannel(channelId, cumulativeAmount, amount);
        // tryRecover(hash, r, vs) rejects high-s signatures and ones that recover to nobody.
        (address signer, ECDSA.RecoverError err,) = ECDSA.tryRecover(voucherDigest(channelId, cumulativeAmount), r, vs);
        if (err != ECDSA.RecoverError.NoError || signer != c.payer) revert Escrow_InvalidSignature(channelId);
        // Effects
        // cumulativeAmount <= amount, which fits 128 bits.
        c.redeemed = uint128(cumulativeAmount);
        provider = c.provider;
        uint256 feeBps_ = c.feeBps;
        // net(x) = x − ⌊x·feeBps/10 000⌋ never decreases as x grows (feeBps ≤ 1 000 < 10 000), so the
        // difference is never negative; both values fit 128 bits, so nothing overflows.
        paid = _net(cumulativeAmount, feeBps_) - _net(redeemed, feeBps_);
        emit Redeemed(channelId, cumulativeAmount, paid);
    }

    /// @dev What the provider gets of a cumulative amount: the amount less its rounded-down fee.
    function _net(uint256 amount, uint256 feeBps_) private pure returns (uint256) {
        return amount - (amount * feeBps_) / _BPS;
    }

    function _deposit(uint256 amount) private {
        // Checks
        if (amount == 0) revert Escrow_InvalidAmount(amount);
        // Effects
        _free[msg.sender] += amount;
        emit Deposited(msg.sender, amount);
        // Interactions: the balance check rejects fee-on-transfer tokens; a revert undoes the credit.
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = _token.balanceOf(address(this)) - before;
        if (received != amount) revert Escrow_TransferAmountMismatch(amount, received);
    }

    /// @dev Returns the unredeemed rest of a channel to its payer's free balance, moves the channel's
    /// fee to the accrued fees, and closes it.
    function _settle(uint256 channelId, Channel storage c) private {
        uint256 redeemed = c.redeemed;
        uint256 refund;
        unchecked {
            // redeemed <= amount always holds: redeem caps it at amount.
            refund = uint256(c.amount) - redeemed;
        }
        uint256 fee = (redeemed * c.feeBps) / _BPS;
        c.amount = uint128(redeemed);
        c.status = ChannelStatus.Closed;
        _free[c.payer] += refund;
        if (fee != 0) _accruedFees += fee;
        emit ChannelClosed(channelId, msg.sender, refund, fee);
    }

    function _debitFree(address account, uint256 amount) private {
        uint256 available = _free[account];
        if (available < amount) revert Escrow_InsufficientBalance(account, available, amount);
        unchecked {
            // checked just above
            _free[account] = available - amount;
        }
    }

    function _existing(uint256 channelId) private view returns (Channel storage c) {
        c = _channels[channelId];
        if (c.status == ChannelStatus.None) revert Escrow_ChannelNotFound(channelId);
    }

    function _payerChannel(uint256 channelId) private view returns (Channel storage c) {
        c = _existing(channelId);
        if (msg.sender != c.payer) revert Escrow_Unauthorized(channelId, msg.sender);
    }

    function _setFeeBps(uint256 feeBps_) private {
        if (feeBps_ > MAX_FEE_BPS) revert Escrow_FeeTooHigh(feeBps_);
        _feeBps = feeBps_;
        emit FeeChanged(feeBps_);
    }

    function _setFeeRecipient(address recipient) private {
        if (recipient == address(0)) revert Escrow_InvalidFeeRecipient();
        _feeRecipient = recipient;
        emit FeeRecipientChanged(recipient);
    }

    function _requireStatus(uint256 channelId, ChannelStatus status, ChannelStatus wanted) private pure {
        if (status != wanted) revert Escrow_InvalidChannelStatus(channelId, status);
    }

    function _requireOpenOrClosing(uint256 channelId, ChannelStatus status) private pure {
        if (status == ChannelStatus.None) revert Escrow_ChannelNotFound(channelId);
        if (status == ChannelStatus.Closed) revert Escrow_InvalidChannelStatus(channelId, status);
    }
}
