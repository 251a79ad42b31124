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
        escrow.redeem(newId, 10 ether, _sign(PAYER2_KEY, newId, 10 ether));
        assertEq(token.balanceOf(provider), 10 ether - _feeOf(10 ether, FEE_BPS), "old fee applied");
        assertEq(token.balanceOf(provider2), 9 ether, "new fee applied");
    }

    function test_redeem_SucceedsFlooringTheFeeInTheProvidersFavour() public {
        uint256 id = _open(payer, provider, AMOUNT);
        // 39 × 250 / 10 000 = 0.975 → 0; then 41 × 250 / 10 000 = 1.025 → 1.
        _redeem(id, 39);
        assertEq(token.balanceOf(provider), 39, "fee floored to zero");
        _redeem(id, 80);
        assertEq(token.balanceOf(provider), 79, "fee floored to one");
        assertEq(escrow.accruedFees(), 1, "one wei of fees");
    }

    function testFuzz_redeem_FeeIsFloorOfBps(uint256 gross, uint256 bps) public {
        gross = bound(gross, 1, PAYER_FUNDS);
        bps = bound(bps, 0, 1000);
        vm.prank(owner);
        escrow.setFeeBps(bps);
        uint256 id = _open(payer, provider, gross);
        _redeem(id, gross);
        uint256 fee = escrow.accruedFees();
        uint256 paid = token.balanceOf(provider);
        assertEq(paid + fee, gross, "nothing lost or made up");
        assertLe(fee * 10_000, gross * bps, "fee never rounds up");
        assertGe(fee * 10_000 + 10_000, gross * bps + 1, "fee is the floor");
        assertLe(fee * 10, gross, "fee at most 10 %");
    }

    // ---- claimFees ----

    function test_claimFees_RevertsWhenNothingAccrued() public {
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.claimFees();
    }

    function test_claimFees_SucceedsForAnyCallerAndPaysTheRecipient() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
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
}
