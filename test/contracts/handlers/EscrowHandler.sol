// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ComputeEscrow} from "../../../contracts/ComputeEscrow.sol";
import {ComputeToken} from "../../../contracts/ComputeToken.sol";
import {IComputeEscrow} from "../../../contracts/interfaces/IComputeEscrow.sol";
import {Cheats} from "../utils/Cheats.sol";

/// @notice Drives a real escrow through random but mostly valid sequences for the invariant fuzzer:
/// four actors with known keys act as payers and providers, vouchers carry real signatures, and
/// ghost variables record every token that enters or leaves.
contract EscrowHandler is Cheats {
    uint256 public constant ACTORS = 4;
    uint256 public constant MAX_CHANNELS = 16;
    uint256 public constant ACTOR_FUNDS = 1_000_000 ether;

    ComputeToken public immutable token;
    ComputeEscrow public immutable escrow;
    address public immutable owner;
    address public immutable feeRecipient;

    uint256[ACTORS] private _keys;
    address[ACTORS] private _actors;

    uint256 public ghostDeposited;
    uint256 public ghostWithdrawn;
    uint256 public ghostPaidToProviders;
    uint256 public ghostFeesClaimed;
    /// @dev Fees that closes moved from their channels to the accrued fees.
    uint256 public ghostFeesAccrued;
    uint256 public ghostDonated;
    bool public ghostRedeemedShrank;
    bool public ghostStaleVoucherPaid;
    bool public ghostForgedVoucherPaid;
    /// @dev A redemption paid other than net(cumulative) − net(redeemed), or touched the accrued fees.
    bool public ghostPaymentMismatch;
    /// @dev A close refunded other than amount − redeemed, or accrued other than ⌊redeemed · bps / 10 000⌋.
    bool public ghostCloseMismatch;
    mapping(uint256 channelId => uint256) public ghostRedeemed;
    /// @dev How often each action went through: to check that the fuzzer reaches every action.
    mapping(string action => uint256) public callCount;

    /// @dev The caller must hand this contract `ACTORS * ACTOR_FUNDS + 1_000 ether` tokens first.
    constructor(ComputeToken token_, ComputeEscrow escrow_, address owner_, address feeRecipient_) {
        token = token_;
        escrow = escrow_;
        owner = owner_;
        feeRecipient = feeRecipient_;
        for (uint256 i; i < ACTORS; ++i) {
            _keys[i] = 0xA0 + i;
            _actors[i] = vm.addr(_keys[i]);
        }
    }

    /// @notice Hands out the actors' funds and approvals; called once by the test's setUp.
    function init() external {
        for (uint256 i; i < ACTORS; ++i) {
            _must(token.transfer(_actors[i], ACTOR_FUNDS));
            vm.prank(_actors[i]);
            token.approve(address(escrow), type(uint256).max);
        }
    }

    function actor(uint256 index) external view returns (address) {
        return _actors[index];
    }

    // ---- actions ----

    function deposit(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 held = token.balanceOf(a);
        if (held == 0) return;
        amount = bound(amount, 1, held);
        vm.prank(a);
        escrow.deposit(amount);
        ghostDeposited += amount;
        _after("deposit");
    }

    function withdraw(uint256 actorSeed, uint256 amount) external {
        address a = _actor(actorSeed);
        uint256 free = escrow.freeBalance(a);
        if (free == 0) return;
        amount = bound(amount, 1, free);
        vm.prank(a);
        escrow.withdraw(amount);
        ghostWithdrawn += amount;
        _after("withdraw");
    }

    function openChannel(uint256 payerSeed, uint256 providerSeed, uint256 amount, uint256 expiryDelta) external {
        if (escrow.lastChannelId() >= MAX_CHANNELS) return;
        uint256 p = payerSeed % ACTORS;
        address payer = _actors[p];
        address provider = _actors[(p + 1 + (providerSeed % (ACTORS - 1))) % ACTORS];
        uint256 free = escrow.freeBalance(payer);
        if (free == 0) return;
        amount = bound(amount, 1, free);
        uint256 expiry = block.timestamp + bound(expiryDelta, 1, 3 days);
        vm.prank(payer);
        escrow.openChannel(provider, amount, expiry);
        _after("openChannel");
    }

    function fundChannel(uint256 channelSeed, uint256 amount) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.status != IComputeEscrow.ChannelStatus.Open || block.timestamp >= c.expiry) return;
        uint256 free = escrow.freeBalance(c.payer);
        if (free == 0) return;
        amount = bound(amount, 1, free);
        vm.prank(c.payer);
        escrow.fundChannel(id, amount);
        _after("fundChannel");
    }

    function extendChannel(uint256 channelSeed, uint256 delta) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.status != IComputeEscrow.ChannelStatus.Open || block.timestamp >= c.deadline) return;
        vm.prank(c.payer);
        escrow.extendChannel(id, uint256(c.expiry) + bound(delta, 1, 2 days));
        _after("extendChannel");
    }

    function redeem(uint256 channelSeed, uint256 amountSeed, uint256 callerSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (!_redeemable(id, c)) return;
        uint256 cumulative = c.redeemed + bound(amountSeed, 1, c.amount - c.redeemed);
        (bytes32 r, bytes32 vs) = _sign(c.payer, id, cumulative);
        uint256 paidBefore = _actorTokens();
        uint256 feesBefore = escrow.accruedFees();
        vm.prank(_actor(callerSeed));
        escrow.redeem(id, cumulative, r, vs);
        uint256 paid = _actorTokens() - paidBefore;
        ghostPaidToProviders += paid;
        if (paid != _net(cumulative, c.feeBps) - _net(c.redeemed, c.feeBps)) ghostPaymentMismatch = true;
        if (escrow.accruedFees() != feesBefore) ghostPaymentMismatch = true;
        _after("redeem");
    }

    /// @notice Tries a voucher at or below what the channel already redeemed; it must never pay.
    function redeemStale(uint256 channelSeed, uint256 amountSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.redeemed == 0) return;
        uint256 cumulative = bound(amountSeed, 0, c.redeemed);
        (bytes32 r, bytes32 vs) = _sign(c.payer, id, cumulative);
        try escrow.redeem(id, cumulative, r, vs) {
            ghostStaleVoucherPaid = true;
        } catch {}
        _after("redeemStale");
    }

    /// @notice Tries a fresh voucher signed by someone other than the payer, or the payer's own
    /// signature with its parity bit flipped; neither may ever pay.
    function redeemForged(uint256 channelSeed, uint256 amountSeed, uint256 signerSeed, bool flipParity) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (!_redeemable(id, c)) return;
        uint256 cumulative = c.redeemed + bound(amountSeed, 1, c.amount - c.redeemed);
        address signer = _actor(signerSeed);
        if (signer == c.payer && !flipParity) signer = c.provider;
        (bytes32 r, bytes32 vs) = _sign(signer, id, cumulative);
        if (flipParity) vs = bytes32(uint256(vs) ^ (1 << 255));
        try escrow.redeem(id, cumulative, r, vs) {
            ghostForgedVoucherPaid = true;
        } catch {}
        _after("redeemForged");
    }

    function redeemBatch(uint256 seedA, uint256 seedB, uint256 seedC) external {
        uint256[3] memory seeds = [seedA, seedB, seedC];
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](3);
        uint256 n;
        uint256 due;
        for (uint256 i; i < 3; ++i) {
            (uint256 id, IComputeEscrow.Channel memory c) = _pick(seeds[i]);
            if (!_redeemable(id, c)) continue;
            // A channel picked twice redeems on top of its earlier voucher in this batch.
            uint256 base = c.redeemed;
            for (uint256 j; j < n; ++j) {
                if (batch[j].channelId == id) base = batch[j].cumulativeAmount;
            }
            if (base >= c.amount) continue;
            uint256 cumulative = base + bound(seeds[i] >> 128, 1, c.amount - base);
            due += _net(cumulative, c.feeBps) - _net(base, c.feeBps);
            (bytes32 r, bytes32 vs) = _sign(c.payer, id, cumulative);
            batch[n++] = IComputeEscrow.SignedVoucher(id, cumulative, r, vs);
        }
        if (n == 0) return;
        assembly ("memory-safe") {
            mstore(batch, n)
        }
        uint256 paidBefore = _actorTokens();
        uint256 feesBefore = escrow.accruedFees();
        escrow.redeemBatch(batch);
        uint256 paid = _actorTokens() - paidBefore;
        ghostPaidToProviders += paid;
        if (paid != due || escrow.accruedFees() != feesBefore) ghostPaymentMismatch = true;
        _after("redeemBatch");
    }

    function requestClose(uint256 channelSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.status != IComputeEscrow.ChannelStatus.Open) return;
        vm.prank(c.payer);
        escrow.requestClose(id);
        _after("requestClose");
    }

    /// @notice Anyone may finalize once the window is over: the payer, the provider, another actor
    /// or the fee recipient, in turn; the outcome must not depend on who. Time first moves on to the
    /// channel's deadline if needed, so that finalizing is not left to the odd long run of warps.
    function finalizeClose(uint256 channelSeed, uint256 callerSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || !_live(c)) return;
        if (block.timestamp < c.deadline) vm.warp(uint256(c.deadline) + bound(callerSeed >> 8, 0, 1 hours));
        uint256 pick = (callerSeed + callCount["finalizeClose"]) % 4;
        address caller = feeRecipient;
        if (pick == 0) {
            caller = c.payer;
        } else if (pick == 1) {
            caller = c.provider;
        } else if (pick == 2) {
            // An actor that is neither party to this channel (there are always two).
            for (uint256 i; i < ACTORS && (caller == feeRecipient || caller == c.payer || caller == c.provider); ++i) {
                caller = _actors[(callerSeed + i) % ACTORS];
            }
        }
        _settle(id, c, caller, false);
        _after("finalizeClose");
    }

    function closeChannel(uint256 channelSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || !_live(c)) return;
        _settle(id, c, c.provider, true);
        _after("closeChannel");
    }

    function claimFees(uint256 callerSeed) external {
        if (escrow.accruedFees() == 0) return;
        uint256 before = token.balanceOf(feeRecipient);
        vm.prank(_actor(callerSeed));
        escrow.claimFees();
        ghostFeesClaimed += token.balanceOf(feeRecipient) - before;
        _after("claimFees");
    }

    function setFeeBps(uint256 bps) external {
        // Read the cap before pranking: the prank applies to the very next external call.
        bps = bound(bps, 0, escrow.MAX_FEE_BPS());
        vm.prank(owner);
        escrow.setFeeBps(bps);
        _after("setFeeBps");
    }

    /// @notice Sends tokens to the escrow without `deposit`: a gift that must not disturb accounting.
    function donate(uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        ghostDonated += amount;
        _must(token.transfer(address(escrow), amount));
        _after("donate");
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
        _after("warp");
    }

    // ---- views for the invariants ----

    /// @notice Σ free balances of all actors (nobody else ever deposits).
    function sumFree() external view returns (uint256 total) {
        for (uint256 i; i < ACTORS; ++i) {
            total += escrow.freeBalance(_actors[i]);
        }
    }

    /// @notice Over all channels: Σ (amount − redeemed), Σ redeemed, and the fees still held by
    /// channels not closed, Σ ⌊redeemed · feeBps / 10 000⌋, computed here rather than asked.
    function channelTotals() external view returns (uint256 locked, uint256 redeemed, uint256 pendingFees) {
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            IComputeEscrow.Channel memory c = escrow.getChannel(id);
            locked += uint256(c.amount) - c.redeemed;
            redeemed += c.redeemed;
            if (c.status != IComputeEscrow.ChannelStatus.Closed) pendingFees += _fee(c.redeemed, c.feeBps);
        }
    }

    // ---- helpers ----

    function _after(string memory action) private {
        ++callCount[action];
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            uint256 redeemed = escrow.getChannel(id).redeemed;
            if (redeemed < ghostRedeemed[id]) ghostRedeemedShrank = true;
            ghostRedeemed[id] = redeemed;
        }
    }

    function _actor(uint256 seed) private view returns (address) {
        return _actors[seed % ACTORS];
    }

    function _pick(uint256 seed) private view returns (uint256 id, IComputeEscrow.Channel memory c) {
        uint256 last = escrow.lastChannelId();
        if (last == 0) return (0, c);
        id = 1 + (seed % last);
        c = escrow.getChannel(id);
    }

    function _live(IComputeEscrow.Channel memory c) private pure returns (bool) {
        return c.status == IComputeEscrow.ChannelStatus.Open || c.status == IComputeEscrow.ChannelStatus.Closing;
    }

    function _redeemable(uint256 id, IComputeEscrow.Channel memory c) private view returns (bool) {
        return id != 0 && _live(c) && block.timestamp < c.deadline && c.redeemed < c.amount;
    }

    function _actorTokens() private view returns (uint256 total) {
        for (uint256 i; i < ACTORS; ++i) {
            total += token.balanceOf(_actors[i]);
        }
    }

    /// @dev Closes as `caller` (`closeChannel` or `finalizeClose`) and checks the outcome: the payer's
    /// free balance grows by exactly amount − redeemed and the accrued fees by exactly
    /// ⌊redeemed · feeBps / 10 000⌋.
    function _settle(uint256 id, IComputeEscrow.Channel memory c, address caller, bool byClose) private {
        uint256 freeBefore = escrow.freeBalance(c.payer);
        uint256 feesBefore = escrow.accruedFees();
        vm.prank(caller);
        if (byClose) escrow.closeChannel(id);
        else escrow.finalizeClose(id);
        uint256 accrued = escrow.accruedFees() - feesBefore;
        ghostFeesAccrued += accrued;
        if (accrued != _fee(c.redeemed, c.feeBps)) ghostCloseMismatch = true;
        if (escrow.freeBalance(c.payer) - freeBefore != uint256(c.amount) - c.redeemed) ghostCloseMismatch = true;
        if (escrow.getChannel(id).status != IComputeEscrow.ChannelStatus.Closed) ghostCloseMismatch = true;
    }

    /// @dev The voucher in EIP-2098 compact form, signed with the key of `signer` (an actor).
    function _sign(address signer, uint256 channelId, uint256 cumulative)
        private
        view
        returns (bytes32 r, bytes32 vs)
    {
        uint256 key;
        for (uint256 i; i < ACTORS; ++i) {
            if (_actors[i] == signer) key = _keys[i];
        }
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, escrow.voucherDigest(channelId, cumulative));
        return (r_, bytes32(uint256(s) | ((uint256(v) - 27) << 255)));
    }

    function _fee(uint256 amount, uint256 feeBps) private pure returns (uint256) {
        return (amount * feeBps) / 10_000;
    }

    function _net(uint256 amount, uint256 feeBps) private pure returns (uint256) {
        return amount - _fee(amount, feeBps);
    }

    function _must(bool ok) private pure {
        if (!ok) revert Test_AssertionFailed("token transfer failed");
    }
}
