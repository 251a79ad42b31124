// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeEscrow} from "../../contracts/ComputeEscrow.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

/// @notice Constructor, views, fees (snapshot, rounding, cap, claim) and two-step ownership.
contract ComputeEscrowFeesTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;

    // ---- constructor and views ----

    function test_constructor_RevertsWhenFeeIsAboveTheCap() public {
        vm.expectRevert(_err(IComputeEscrow.Escrow_FeeTooHigh.selector, 1001));
        new ComputeEscrow(IERC20(address(token)), CHALLENGE, 1001, feeRecipient, owner);
    }

    function test_constructor_RevertsWhenChallengePeriodIsZero() public {
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidChallengePeriod.selector, 0));
        new ComputeEscrow(IERC20(address(token)), 0, FEE_BPS, feeRecipient, owner);
    }

    function test_constructor_RevertsWhenChallengePeriodExceeds32Bits() public {
        uint256 tooLong = uint256(type(uint32).max) + 1;
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidChallengePeriod.selector, tooLong));
        new ComputeEscrow(IERC20(address(token)), tooLong, FEE_BPS, feeRecipient, owner);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidChallengePeriod.selector, type(uint256).max));
        new ComputeEscrow(IERC20(address(token)), type(uint256).max, FEE_BPS, feeRecipient, owner);
    }

    function test_constructor_SucceedsAtTheChallengePeriodBounds() public {
        ComputeEscrow shortest = new ComputeEscrow(IERC20(address(token)), 1, FEE_BPS, feeRecipient, owner);
        assertEq(shortest.challengePeriod(), 1, "one second");
        ComputeEscrow longest =
            new ComputeEscrow(IERC20(address(token)), type(uint32).max, FEE_BPS, feeRecipient, owner);
        assertEq(longest.challengePeriod(), type(uint32).max, "2^32 - 1 seconds");
        // With the longest period, an expiry that fits 40 bits still cannot push the deadline out.
        vm.prank(payer);
        token.approve(address(longest), type(uint256).max);
        vm.prank(payer);
        longest.deposit(1);
        uint256 expiry = uint256(type(uint40).max) - type(uint32).max + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        longest.openChannel(provider, 1, expiry);
        vm.prank(payer);
        uint256 id = longest.openChannel(provider, 1, expiry - 1);
        assertEq(longest.getChannel(id).deadline, type(uint40).max, "deadline at the 40-bit limit");
    }

    function testFuzz_constructor_EnforcesTheChallengePeriodRange(uint256 period) public {
        if (period == 0 || period > type(uint32).max) {
            vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidChallengePeriod.selector, period));
            new ComputeEscrow(IERC20(address(token)), period, FEE_BPS, feeRecipient, owner);
        } else {
            ComputeEscrow e = new ComputeEscrow(IERC20(address(token)), period, FEE_BPS, feeRecipient, owner);
            assertEq(e.challengePeriod(), period, "challengePeriod");
        }
    }

    function test_constructor_RevertsWhenFeeRecipientIsZero() public {
        vm.expectRevert(IComputeEscrow.Escrow_InvalidFeeRecipient.selector);
        new ComputeEscrow(IERC20(address(token)), CHALLENGE, FEE_BPS, address(0), owner);
    }

    function test_constructor_RevertsWhenOwnerIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new ComputeEscrow(IERC20(address(token)), CHALLENGE, FEE_BPS, feeRecipient, address(0));
    }

    function test_constructor_SucceedsAndEmitsFeeSettings() public {
        vm.expectEmit(true, true, true, true);
        emit IComputeEscrow.FeeChanged(FEE_BPS);
        vm.expectEmit(true, true, true, true);
        emit IComputeEscrow.FeeRecipientChanged(feeRecipient);
        ComputeEscrow e = _deployEscrow();
        assertEq(e.token(), address(token), "token");
        assertEq(e.challengePeriod(), CHALLENGE, "challengePeriod");
        assertEq(e.feeBps(), FEE_BPS, "feeBps");
        assertEq(e.feeRecipient(), feeRecipient, "feeRecipient");
        assertEq(e.owner(), owner, "owner");
        assertEq(e.accruedFees(), 0, "accruedFees");
        assertEq(e.lastChannelId(), 0, "lastChannelId");
        assertEq(e.MAX_FEE_BPS(), 1000, "fee cap is 10 %");
    }

    function test_getChannel_ReturnsZeroForAnUnknownChannel() public view {
        IComputeEscrow.Channel memory c = escrow.getChannel(42);
        assertEq(c.payer, address(0), "payer");
        assertEq(c.amount, 0, "amount");
        assertTrue(c.status == IComputeEscrow.ChannelStatus.None, "status None");
    }

    // ---- setFeeBps / setFeeRecipient ----

    function test_setFeeBps_RevertsWhenCallerIsNotTheOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setFeeBps(10);
    }

    function test_setFeeBps_RevertsWhenAboveTheCap() public {
        vm.prank(owner);
        vm.expectRevert(_err(IComputeEscrow.Escrow_FeeTooHigh.selector, 1001));
        escrow.setFeeBps(1001);
    }

    function test_setFeeBps_SucceedsAtTheCapAndEmitsFeeChanged() public {
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.FeeChanged(1000);
        vm.prank(owner);
        escrow.setFeeBps(1000);
        assertEq(escrow.feeBps(), 1000, "fee set");
    }

    function testFuzz_setFeeBps_EnforcesTheCap(uint256 bps) public {
        vm.prank(owner);
        if (bps > 1000) {
            vm.expectRevert(_err(IComputeEscrow.Escrow_FeeTooHigh.selector, bps));
            escrow.setFeeBps(bps);
        } else {
            escrow.setFeeBps(bps);
            assertEq(escrow.feeBps(), bps, "fee set");
        }
    }

    function test_setFeeRecipient_RevertsWhenCallerIsNotTheOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setFeeRecipient(stranger);
    }

    function test_setFeeRecipient_RevertsWhenZero() public {
        vm.prank(owner);
        vm.expectRevert(IComputeEscrow.Escrow_InvalidFeeRecipient.selector);
        escrow.setFeeRecipient(address(0));
    }

    function test_setFeeRecipient_SucceedsAndRedirectsClaims() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.FeeRecipientChanged(provider2);
        vm.prank(owner);
        escrow.setFeeRecipient(provider2);
        escrow.claimFees();
        assertEq(token.balanceOf(provider2), _feeOf(AMOUNT, FEE_BPS), "new recipient got the fees");
        assertEq(token.balanceOf(feeRecipient), 0, "old recipient got nothing");
    }

    // ---- two-step ownership ----

    function test_transferOwnership_SucceedsOnlyAfterAcceptance() public {
        vm.prank(owner);
        escrow.transferOwnership(stranger);
        assertEq(escrow.owner(), owner, "still the old owner");
        assertEq(escrow.pendingOwner(), stranger, "pending");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        escrow.setFeeBps(1);
        vm.prank(stranger);
        escrow.acceptOwnership();
        assertEq(escrow.owner(), stranger, "new owner");
        vm.prank(stranger);
        escrow.setFeeBps(1);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        escrow.setFeeBps(2);
    }

    function test_acceptOwnership_RevertsWhenCallerIsNotPending() public {
        vm.prank(owner);
        escrow.transferOwnership(stranger);
        vm.prank(payer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, payer));
        escrow.acceptOwnership();
    }

    function test_transferOwnership_RevertsWhenCallerIsNotTheOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        Ownable2Step(address(escrow)).transferOwnership(stranger);
    }

    // ---- fee snapshot and rounding ----

    function test_openChannel_SucceedsSnapshottingTheFee() public {
        uint256 oldId = _open(payer, provider, AMOUNT);
        vm.prank(owner);
        escrow.setFeeBps(1000);
        uint256 newId = _open(payer2, provider2, AMOUNT);
        assertEq(_channel(oldId).feeBps, FEE_BPS, "old channel keeps its fee");
        assertEq(_channel(newId).feeBps, 1000, "new channel takes the new fee");
        _redeem(oldId, 10 ether);
        (bytes32 r, bytes32 vs) = _sign(PAYER2_KEY, newId, 10 ether);
        escrow.redeem(newId, 10 ether, r, vs);
        assertEq(token.balanceOf(provider), _netOf(10 ether, FEE_BPS), "old fee applied");
        assertEq(token.balanceOf(provider2), 9 ether, "new fee applied");
        // A change after opening touches neither the rest of the redemptions nor the fee at close.
        vm.prank(owner);
        escrow.setFeeBps(0);
        _redeem(oldId, 20 ether);
        assertEq(token.balanceOf(provider), _netOf(20 ether, FEE_BPS), "old fee still applied");
        vm.prank(provider);
        escrow.closeChannel(oldId);
        vm.prank(provider2);
        escrow.closeChannel(newId);
        assertEq(escrow.accruedFees(), _feeOf(20 ether, FEE_BPS) + 1 ether, "each channel's own fee at close");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsRoundingTheFeeOnceOnTheCumulativeTotal() public {
        uint256 id = _open(payer, provider, AMOUNT);
        // ⌊39 × 250 / 10 000⌋ = 0: the first 39 wei are paid whole.
        _redeem(id, 39);
        assertEq(token.balanceOf(provider), 39, "fee floored to zero");
        // ⌊80 × 250 / 10 000⌋ = 2: the provider has net(80) = 78 in all, whatever came before.
        _redeem(id, 80);
        assertEq(token.balanceOf(provider), 78, "net of the cumulative total");
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, provider, AMOUNT - 80, 2);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.accruedFees(), 2, "fee of the total at close");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsOneWeiAtATimeWithoutLosingTheFee() public {
        // Per-redemption rounding would floor every 1-wei fee to zero and the protocol would get
        // nothing; rounding the cumulative total once takes exactly ⌊total · bps / 10 000⌋.
        vm.prank(owner);
        escrow.setFeeBps(1000);
        uint256 total = 120;
        uint256 id = _open(payer, provider, total);
        for (uint256 cumulative = 1; cumulative <= total; ++cumulative) {
            _redeem(id, cumulative);
            assertEq(token.balanceOf(provider), _netOf(cumulative, 1000), "provider has net(cumulative)");
        }
        assertEq(token.balanceOf(provider), 108, "net(120) at 10 %");
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.accruedFees(), 12, "fee of 120 at 10 %");
        assertEq(token.balanceOf(provider) + escrow.accruedFees(), total, "nothing lost or made up");
        _assertAccounting(0);
    }

    function testFuzz_redeem_ProviderNeverGetsLessThanItsShare(uint256 seed, uint256 bps, uint256 steps) public {
        bps = bound(bps, 0, 1000);
        steps = bound(steps, 1, 8);
        vm.prank(owner);
        escrow.setFeeBps(bps);
        uint256 amount = bound(seed, steps, PAYER_FUNDS);
        uint256 id = _open(payer, provider, amount);
        uint256 cumulative;
        for (uint256 i; i < steps; ++i) {
            // Small and large steps alike; the last one always reaches `amount`.
            uint256 left = amount - cumulative - (steps - 1 - i);
            uint256 step = amount - cumulative;
            if (i != steps - 1) step = bound(uint256(keccak256(abi.encode(seed, i))), 1, left);
            uint256 before = token.balanceOf(provider);
            cumulative += step;
            _redeem(id, cumulative);
            uint256 paidNow = token.balanceOf(provider) - before;
            assertEq(paidNow, _netOf(cumulative, bps) - _netOf(cumulative - step, bps), "paid net difference");
            // Its share is cumulative × (1 − bps / 10 000), exactly; it has at least that.
            assertGe(token.balanceOf(provider) * 10_000, cumulative * (10_000 - bps), "at least its share");
            assertLe(token.balanceOf(provider) * 10_000, cumulative * (10_000 - bps) + 9_999, "under 1 wei more");
        }
        vm.prank(provider);
        escrow.closeChannel(id);
        uint256 fee = escrow.accruedFees();
        assertEq(token.balanceOf(provider) + fee, amount, "nothing lost or made up");
        assertLe(fee * 10_000, amount * bps, "fee never rounds up");
        assertGe(fee * 10_000 + 10_000, amount * bps + 1, "fee is the floor");
        assertLe(fee * 10, amount, "fee at most 10 %");
        _assertAccounting(0);
    }

    // ---- claimFees ----

    function test_claimFees_RevertsWhenNothingAccrued() public {
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.claimFees();
    }

    function test_claimFees_RevertsWhileTheFeesAreStillInOpenChannels() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
        assertEq(_pendingFee(id), _feeOf(AMOUNT, FEE_BPS), "the channel holds its fee");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.claimFees();
    }

    function test_claimFees_SucceedsForAnyCallerAndPaysTheRecipient() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        uint256 fee = _feeOf(AMOUNT, FEE_BPS);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.FeesClaimed(feeRecipient, fee);
        vm.prank(stranger);
        escrow.claimFees();
        assertEq(token.balanceOf(feeRecipient), fee, "recipient paid");
        assertEq(token.balanceOf(stranger), 0, "caller gets nothing");
        assertEq(escrow.accruedFees(), 0, "reset");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.claimFees();
        _assertAccounting(0);
    }

    function test_claimFees_SucceedsAfterAFinalizeNobodyButTheRecipientCalled() public {
        // A channel its parties abandoned: the fee recipient finalizes it to collect the fee.
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 30 ether);
        vm.warp(_channel(id).deadline);
        vm.prank(feeRecipient);
        escrow.finalizeClose(id);
        escrow.claimFees();
        assertEq(token.balanceOf(feeRecipient), _feeOf(30 ether, FEE_BPS), "fee collected");
        assertEq(escrow.freeBalance(payer), 70 ether, "the payer's rest is back in its free balance");
        _assertAccounting(0);
    }
}
