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
    uint256 public ghostDonated;
    bool public ghostRedeemedShrank;
    bool public ghostStaleVoucherPaid;
    bool public ghostPaymentMismatch;
    mapping(uint256 channelId => uint256) public ghostRedeemed;
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
        bytes memory sig = _sign(c.payer, id, cumulative);
        uint256 paidBefore = _actorTokens();
        uint256 feesBefore = escrow.accruedFees();
        vm.prank(_actor(callerSeed));
        escrow.redeem(id, cumulative, sig);
        uint256 paid = _actorTokens() - paidBefore;
        ghostPaidToProviders += paid;
        if (paid + (escrow.accruedFees() - feesBefore) != cumulative - c.redeemed) ghostPaymentMismatch = true;
        _after("redeem");
    }

    /// @notice Tries a voucher at or below what the channel already redeemed; it must never pay.
    function redeemStale(uint256 channelSeed, uint256 amountSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.redeemed == 0) return;
        uint256 cumulative = bound(amountSeed, 0, c.redeemed);
        bytes memory sig = _sign(c.payer, id, cumulative);
        try escrow.redeem(id, cumulative, sig) {
            ghostStaleVoucherPaid = true;
        } catch {}
        _after("redeemStale");
    }

    function redeemBatch(uint256 seedA, uint256 seedB, uint256 seedC) external {
        uint256[3] memory seeds = [seedA, seedB, seedC];
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](3);
        uint256 n;
        uint256 gross;
        for (uint256 i; i < 3; ++i) {
            (uint256 id, IComputeEscrow.Channel memory c) = _pick(seeds[i]);
            if (!_redeemable(id, c)) continue;
            // A channel picked twice redeems on top of its earlier voucher in this batch.
            uint256 base = c.redeemed;
            for (uint256 j; j < n; ++j) {
                if (vs[j].channelId == id) base = vs[j].cumulativeAmount;
            }
            if (base >= c.amount) continue;
            uint256 cumulative = base + bound(seeds[i] >> 128, 1, c.amount - base);
            gross += cumulative - base;
            vs[n++] = IComputeEscrow.SignedVoucher(id, cumulative, _sign(c.payer, id, cumulative));
        }
        if (n == 0) return;
        assembly ("memory-safe") {
            mstore(vs, n)
        }
        uint256 paidBefore = _actorTokens();
        uint256 feesBefore = escrow.accruedFees();
        escrow.redeemBatch(vs);
        uint256 paid = _actorTokens() - paidBefore;
        ghostPaidToProviders += paid;
        if (paid + (escrow.accruedFees() - feesBefore) != gross) ghostPaymentMismatch = true;
        _after("redeemBatch");
    }

    function requestClose(uint256 channelSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || c.status != IComputeEscrow.ChannelStatus.Open) return;
        vm.prank(c.payer);
        escrow.requestClose(id);
        _after("requestClose");
    }

    function finalizeClose(uint256 channelSeed, bool byProvider) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || !_live(c) || block.timestamp < c.deadline) return;
        vm.prank(byProvider ? c.provider : c.payer);
        escrow.finalizeClose(id);
        _after("finalizeClose");
    }

    function closeChannel(uint256 channelSeed) external {
        (uint256 id, IComputeEscrow.Channel memory c) = _pick(channelSeed);
        if (id == 0 || !_live(c)) return;
        vm.prank(c.provider);
        escrow.closeChannel(id);
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
        vm.prank(owner);
        escrow.setFeeBps(bound(bps, 0, escrow.MAX_FEE_BPS()));
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

    function _sign(address signer, uint256 channelId, uint256 cumulative) private view returns (bytes memory) {
        uint256 key;
        for (uint256 i; i < ACTORS; ++i) {
            if (_actors[i] == signer) key = _keys[i];
        }
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, escrow.voucherDigest(channelId, cumulative));
        return abi.encodePacked(r, s, v);
    }

    function _must(bool ok) private pure {
        if (!ok) revert Test_AssertionFailed("token transfer failed");
    }
}
