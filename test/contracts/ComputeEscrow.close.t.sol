// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

/// @notice closeChannel, requestClose, finalizeClose, the challenge-window boundary and expiry.
contract ComputeEscrowCloseTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;

    // ---- closeChannel ----

    function test_closeChannel_RevertsWhenChannelDoesNotExist() public {
        vm.prank(provider);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 3));
        escrow.closeChannel(3);
    }

    function test_closeChannel_RevertsWhenCallerIsNotTheProvider() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_errUnauthorized(id, payer));
        escrow.closeChannel(id);
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.closeChannel(id);
    }

    function test_closeChannel_RevertsWhenAlreadyClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.prank(provider);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.closeChannel(id);
    }

    function test_closeChannel_SucceedsAndRefundsThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 30 ether);
        uint256 fee = _feeOf(30 ether, FEE_BPS);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, provider, 70 ether, fee);
        vm.prank(provider);
        escrow.closeChannel(id);
        IComputeEscrow.Channel memory c = _channel(id);
        assertTrue(c.status == IComputeEscrow.ChannelStatus.Closed, "closed");
        assertEq(c.amount, 30 ether, "amount cut to redeemed");
        assertEq(c.redeemed, 30 ether, "redeemed kept");
        assertEq(escrow.freeBalance(payer), 70 ether, "refund is free balance");
        assertEq(escrow.accruedFees(), fee, "the channel's fee moved to the accrued fees");
        assertEq(token.balanceOf(provider) + fee, 30 ether, "provider + fee == redeemed");
        vm.prank(payer);
        escrow.withdraw(70 ether);
        _assertAccounting(0);
    }

    function test_closeChannel_SucceedsWhileClosing() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, provider, AMOUNT, 0);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.freeBalance(payer), AMOUNT, "full refund");
        assertEq(escrow.accruedFees(), 0, "nothing redeemed, no fee");
    }

    function test_closeChannel_SucceedsMovingTheFeeOnlyOnce() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.accruedFees(), _feeOf(AMOUNT, FEE_BPS), "fee of the whole channel");
        assertEq(escrow.freeBalance(payer), 0, "nothing to refund");
        vm.prank(provider);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.closeChannel(id);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.finalizeClose(id);
        assertEq(escrow.accruedFees(), _feeOf(AMOUNT, FEE_BPS), "not moved twice");
        _assertAccounting(0);
    }

    function test_closeChannel_SucceedsAfterTheWindowEnded() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.warp(_channel(id).deadline + 1 days);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.freeBalance(payer), AMOUNT, "full refund");
    }

    // ---- requestClose ----

    function test_requestClose_RevertsWhenChannelDoesNotExist() public {
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 1));
        escrow.requestClose(1);
    }

    function test_requestClose_RevertsWhenCallerIsNotThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        vm.expectRevert(_errUnauthorized(id, provider));
        escrow.requestClose(id);
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.requestClose(id);
    }

    function test_requestClose_RevertsWhenAlreadyClosing() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.warp(block.timestamp + 1 hours);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closing));
        escrow.requestClose(id);
        assertEq(_channel(id).deadline, deadline, "a second request moves nothing");
    }

    function test_requestClose_RevertsWhenClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.requestClose(id);
    }

    function test_requestClose_SucceedsAndEmitsCloseRequested() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = block.timestamp + CHALLENGE;
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.CloseRequested(id, deadline);
        vm.prank(payer);
        escrow.requestClose(id);
        IComputeEscrow.Channel memory c = _channel(id);
        assertTrue(c.status == IComputeEscrow.ChannelStatus.Closing, "closing");
        assertEq(c.deadline, deadline, "challenge window from now");
    }

    function test_requestClose_SucceedsKeepingAnEarlierExpiryDeadline() public {
        uint256 id = _openWithExpiry(payer, provider, AMOUNT, block.timestamp + 1 hours);
        uint256 expiryDeadline = _channel(id).deadline;
        vm.warp(block.timestamp + 2 hours);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.CloseRequested(id, expiryDeadline);
        vm.prank(payer);
        escrow.requestClose(id);
        assertEq(_channel(id).deadline, expiryDeadline, "asking to close never gives the provider longer");
    }

    // ---- finalizeClose ----

    function test_finalizeClose_RevertsWhenChannelDoesNotExist() public {
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 4));
        escrow.finalizeClose(4);
    }

    function test_finalizeClose_SucceedsForAStrangerAfterTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 10 ether);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, stranger, 90 ether, _feeOf(10 ether, FEE_BPS));
        vm.prank(stranger);
        escrow.finalizeClose(id);
        assertEq(escrow.freeBalance(payer), 90 ether, "the refund goes to the payer");
        assertEq(escrow.freeBalance(stranger), 0, "the stranger gets nothing");
        assertEq(escrow.accruedFees(), _feeOf(10 ether, FEE_BPS), "fee accrued");
        _assertAccounting(0);
    }

    function test_finalizeClose_RevertsWhenAStrangerCallsBeforeTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline - 1);
        vm.prank(stranger);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, deadline));
        escrow.finalizeClose(id);
    }

    function test_finalizeClose_RevertsWhenChallengeWindowIsOpen() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, deadline));
        escrow.finalizeClose(id);
    }

    function test_finalizeClose_RevertsWhenOpenAndNotExpired() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, deadline));
        escrow.finalizeClose(id);
    }

    function test_finalizeClose_RevertsWhenAlreadyClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.prank(payer);
        escrow.finalizeClose(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.finalizeClose(id);
        assertEq(escrow.freeBalance(payer), AMOUNT, "refunded once");
    }

    function test_finalizeClose_SucceedsForThePayerAndEmitsChannelClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 40 ether);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, payer, 60 ether, _feeOf(40 ether, FEE_BPS));
        vm.prank(payer);
        escrow.finalizeClose(id);
        IComputeEscrow.Channel memory c = _channel(id);
        assertTrue(c.status == IComputeEscrow.ChannelStatus.Closed, "closed");
        assertEq(c.amount, 40 ether, "amount == redeemed");
        assertEq(escrow.freeBalance(payer), 60 ether, "rest refunded");
        assertEq(escrow.accruedFees(), _feeOf(40 ether, FEE_BPS), "the channel's fee accrued");
        _assertAccounting(0);
    }

    function test_finalizeClose_SucceedsForTheProvider() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, provider, AMOUNT, 0);
        vm.prank(provider);
        escrow.finalizeClose(id);
        assertEq(escrow.freeBalance(payer), AMOUNT, "refund goes to the payer, whoever finalizes");
    }

    // ---- the challenge-window boundary ----

    function test_redeem_SucceedsOneSecondBeforeTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline - 1);
        _redeem(id, 10 ether);
        assertEq(_channel(id).redeemed, 10 ether, "redeemed at deadline - 1");
    }

    function test_redeem_RevertsAtTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_RedeemWindowOver.selector, id, deadline));
        escrow.redeem(id, 10 ether, r, vs);
    }

    function test_finalizeClose_RevertsOneSecondBeforeTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline - 1);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, deadline));
        escrow.finalizeClose(id);
    }

    function test_finalizeClose_SucceedsAtTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.prank(payer);
        escrow.finalizeClose(id);
        assertEq(escrow.freeBalance(payer), AMOUNT, "refunded at the deadline");
    }

    function test_redeem_SucceedsAtDeadlineMinusOneThenFinalizeAtDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline - 1);
        _redeem(id, 70 ether);
        vm.warp(deadline);
        vm.prank(payer);
        escrow.finalizeClose(id);
        assertEq(token.balanceOf(provider), _netOf(70 ether, FEE_BPS), "provider kept its voucher");
        assertEq(escrow.freeBalance(payer), 30 ether, "payer got the rest");
        _assertAccounting(0);
    }

    // ---- expiry acts like a close request ----

    function test_finalizeClose_SucceedsAfterExpiryWithoutARequest() public {
        uint256 id = _openWithExpiry(payer, provider, AMOUNT, block.timestamp + 1 hours);
        IComputeEscrow.Channel memory c = _channel(id);
        assertEq(c.deadline, c.expiry + CHALLENGE, "window after expiry");
        vm.warp(c.expiry);
        _redeem(id, 10 ether); // the provider still redeems after expiry
        vm.warp(c.deadline - 1);
        _redeem(id, 20 ether);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, c.deadline));
        escrow.finalizeClose(id);
        vm.warp(c.deadline);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 30 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_RedeemWindowOver.selector, id, c.deadline));
        escrow.redeem(id, 30 ether, r, vs);
        vm.prank(payer);
        escrow.finalizeClose(id);
        assertEq(escrow.freeBalance(payer), 80 ether, "unredeemed rest back");
        assertEq(escrow.accruedFees(), _feeOf(20 ether, FEE_BPS), "fee of the redeemed 20");
        _assertAccounting(0);
    }

    function testFuzz_close_RefundPlusRedeemedEqualsAmount(uint256 amount, uint256 redeemed, uint256 closer)
        public
    {
        amount = bound(amount, 1, PAYER_FUNDS);
        redeemed = bound(redeemed, 0, amount);
        closer = bound(closer, 0, 3);
        uint256 id = _open(payer, provider, amount);
        if (redeemed != 0) _redeem(id, redeemed);
        uint256 fee = _feeOf(redeemed, FEE_BPS);
        if (closer == 0) {
            vm.prank(provider);
            escrow.closeChannel(id);
        } else {
            vm.prank(payer);
            escrow.requestClose(id);
            vm.warp(_channel(id).deadline);
            vm.expectEmit(true, true, true, true, address(escrow));
            address by = closer == 1 ? payer : closer == 2 ? provider : stranger;
            emit IComputeEscrow.ChannelClosed(id, by, amount - redeemed, fee);
            vm.prank(by);
            escrow.finalizeClose(id);
        }
        assertEq(escrow.freeBalance(payer), amount - redeemed, "refund");
        assertEq(escrow.accruedFees(), fee, "fee of the redeemed total");
        assertEq(token.balanceOf(provider), _netOf(redeemed, FEE_BPS), "provider paid net");
        assertEq(token.balanceOf(provider) + escrow.accruedFees(), redeemed, "provider + fee == redeemed");
        _assertAccounting(0);
    }
}
