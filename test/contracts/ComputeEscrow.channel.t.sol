// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

/// @notice openChannel, fundChannel and extendChannel.
contract ComputeEscrowChannelTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;

    function _expiry() private view returns (uint256) {
        return block.timestamp + 7 days;
    }

    // ---- openChannel ----

    function test_openChannel_RevertsWhenProviderIsZero() public {
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidProvider.selector, 0));
        escrow.openChannel(address(0), AMOUNT, _expiry());
    }

    function test_openChannel_RevertsWhenProviderIsThePayer() public {
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidProvider.selector, uint256(uint160(payer))));
        escrow.openChannel(payer, AMOUNT, _expiry());
    }

    function test_openChannel_RevertsWhenAmountIsZero() public {
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.openChannel(provider, 0, _expiry());
    }

    function test_openChannel_RevertsWhenAmountExceeds128Bits() public {
        uint256 amount = uint256(type(uint128).max) + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, amount));
        escrow.openChannel(provider, amount, _expiry());
    }

    function test_openChannel_RevertsWhenExpiryIsNow() public {
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, block.timestamp));
        escrow.openChannel(provider, AMOUNT, block.timestamp);
    }

    function test_openChannel_RevertsWhenExpiryIsInThePast() public {
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, block.timestamp - 1));
        escrow.openChannel(provider, AMOUNT, block.timestamp - 1);
    }

    function test_openChannel_RevertsWhenDeadlineExceeds40Bits() public {
        _deposit(payer, AMOUNT);
        uint256 expiry = uint256(type(uint40).max) - CHALLENGE + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        escrow.openChannel(provider, AMOUNT, expiry);
    }

    function test_openChannel_RevertsWhenExpiryExceeds40Bits() public {
        _deposit(payer, AMOUNT);
        uint256 expiry = uint256(type(uint40).max) + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        escrow.openChannel(provider, AMOUNT, expiry);
    }

    function testFuzz_openChannel_RevertsWithInvalidExpiryAboveTheLastDeadline(uint256 expiry) public {
        // Any expiry whose deadline would not fit 40 bits, up to 2^256 − 1: a clean error, never a panic.
        expiry = bound(expiry, uint256(type(uint40).max) - CHALLENGE + 1, type(uint256).max);
        _deposit(payer, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        escrow.openChannel(provider, AMOUNT, expiry);
    }

    function test_openChannel_RevertsWhenExpiryIsHuge() public {
        // The interface promises Escrow_InvalidExpiry for an expiry that does not fit 40 bits,
        // also where expiry + challengePeriod would overflow 256 bits.
        _deposit(payer, AMOUNT);
        uint256 expiry = type(uint256).max;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        escrow.openChannel(provider, AMOUNT, expiry);
    }

    function test_openChannel_RevertsWhenFreeBalanceIsShort() public {
        _deposit(payer, AMOUNT - 1);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, AMOUNT - 1, AMOUNT));
        escrow.openChannel(provider, AMOUNT, _expiry());
    }

    function test_openChannel_SucceedsAtTheLargest40BitDeadline() public {
        _deposit(payer, AMOUNT);
        uint256 expiry = uint256(type(uint40).max) - CHALLENGE;
        vm.prank(payer);
        uint256 id = escrow.openChannel(provider, AMOUNT, expiry);
        assertEq(_channel(id).deadline, type(uint40).max, "deadline at the 40-bit limit");
    }

    function test_openChannel_SucceedsAndStoresTheChannel() public {
        _deposit(payer, AMOUNT + 5);
        uint256 expiry = _expiry();
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelOpened(1, payer, provider, AMOUNT, expiry, FEE_BPS);
        vm.prank(payer);
        uint256 id = escrow.openChannel(provider, AMOUNT, expiry);
        assertEq(id, 1, "first id is 1");
        assertEq(escrow.lastChannelId(), 1, "lastChannelId");
        IComputeEscrow.Channel memory c = _channel(id);
        assertEq(c.payer, payer, "payer");
        assertEq(c.provider, provider, "provider");
        assertEq(c.amount, AMOUNT, "amount");
        assertEq(c.redeemed, 0, "redeemed");
        assertEq(c.expiry, expiry, "expiry");
        assertEq(c.deadline, expiry + CHALLENGE, "deadline");
        assertEq(c.feeBps, FEE_BPS, "fee snapshot");
        assertTrue(c.status == IComputeEscrow.ChannelStatus.Open, "open");
        assertEq(escrow.freeBalance(payer), 5, "amount left the free balance");
        _assertAccounting(0);
    }

    function test_openChannel_SucceedsWithIncreasingIds() public {
        assertEq(_open(payer, provider, 1), 1, "id 1");
        assertEq(_open(payer2, provider, 1), 2, "id 2");
        assertEq(_open(payer, provider2, 1), 3, "id 3");
        assertEq(escrow.lastChannelId(), 3, "lastChannelId");
    }

    function testFuzz_openChannel_LocksExactly(uint256 deposited, uint256 amount, uint256 expiryDelta) public {
        deposited = bound(deposited, 1, PAYER_FUNDS);
        amount = bound(amount, 1, deposited);
        expiryDelta = bound(expiryDelta, 1, 10 * 365 days);
        _deposit(payer, deposited);
        vm.prank(payer);
        uint256 id = escrow.openChannel(provider, amount, block.timestamp + expiryDelta);
        assertEq(_channel(id).amount, amount, "locked");
        assertEq(escrow.freeBalance(payer), deposited - amount, "free rest");
        _assertAccounting(0);
    }

    // ---- fundChannel ----

    function test_fundChannel_RevertsWhenChannelDoesNotExist() public {
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 9));
        escrow.fundChannel(9, 1);
    }

    function test_fundChannel_RevertsWhenCallerIsNotThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer2, 1);
        vm.prank(payer2);
        vm.expectRevert(_errUnauthorized(id, payer2));
        escrow.fundChannel(id, 1);
        vm.prank(provider);
        vm.expectRevert(_errUnauthorized(id, provider));
        escrow.fundChannel(id, 1);
    }

    function test_fundChannel_RevertsWhenClosing() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer, 1);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closing));
        escrow.fundChannel(id, 1);
    }

    function test_fundChannel_RevertsWhenClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.fundChannel(id, 1);
    }

    function test_fundChannel_RevertsWhenExpired() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer, 1);
        uint256 expiry = _channel(id).expiry;
        vm.warp(expiry);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelExpired.selector, id, expiry));
        escrow.fundChannel(id, 1);
    }

    function test_fundChannel_SucceedsOneSecondBeforeExpiry() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer, 1);
        vm.warp(_channel(id).expiry - 1);
        vm.prank(payer);
        escrow.fundChannel(id, 1);
        assertEq(_channel(id).amount, AMOUNT + 1, "funded");
    }

    function test_fundChannel_RevertsWhenAmountIsZero() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.fundChannel(id, 0);
    }

    function test_fundChannel_RevertsWhenTotalExceeds128Bits() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 amount = uint256(type(uint128).max) - AMOUNT + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, amount));
        escrow.fundChannel(id, amount);
    }

    function test_fundChannel_RevertsWhenAmountIsHuge() public {
        // Documented as Escrow_InvalidAmount ("does not fit the channel's 128-bit accounting"),
        // also where channel amount + amount would overflow 256 bits.
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 amount = type(uint256).max;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, amount));
        escrow.fundChannel(id, amount);
    }

    function testFuzz_fundChannel_RevertsWithInvalidAmountAbove128Bits(uint256 amount) public {
        uint256 id = _open(payer, provider, AMOUNT);
        amount = bound(amount, uint256(type(uint128).max) - AMOUNT + 1, type(uint256).max);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, amount));
        escrow.fundChannel(id, amount);
    }

    function test_fundChannel_PassesTheRangeCheckAtThe128BitLimit() public {
        // amount + total == 2^128 − 1 is in range: the next check, the free balance, is what fails.
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 amount = uint256(type(uint128).max) - AMOUNT;
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, 0, amount));
        escrow.fundChannel(id, amount);
    }

    function test_fundChannel_RevertsWhenFreeBalanceIsShort() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer, 4);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, 4, 5));
        escrow.fundChannel(id, 5);
    }

    function test_fundChannel_SucceedsAndEmitsChannelFunded() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer, 30 ether);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelFunded(id, 30 ether, AMOUNT + 30 ether);
        vm.prank(payer);
        escrow.fundChannel(id, 30 ether);
        assertEq(_channel(id).amount, AMOUNT + 30 ether, "amount grew");
        assertEq(escrow.freeBalance(payer), 0, "free balance spent");
        _assertAccounting(0);
    }

    // ---- extendChannel ----

    function test_extendChannel_RevertsWhenChannelDoesNotExist() public {
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 1));
        escrow.extendChannel(1, block.timestamp + 30 days);
    }

    function test_extendChannel_RevertsWhenCallerIsNotThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        vm.expectRevert(_errUnauthorized(id, provider));
        escrow.extendChannel(id, block.timestamp + 30 days);
    }

    function test_extendChannel_RevertsWhenClosing() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closing));
        escrow.extendChannel(id, block.timestamp + 30 days);
    }

    function test_extendChannel_RevertsWhenClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.prank(payer);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.extendChannel(id, block.timestamp + 30 days);
    }

    function test_extendChannel_RevertsWhenRedeemWindowIsOver() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_RedeemWindowOver.selector, id, deadline));
        escrow.extendChannel(id, deadline + 30 days);
    }

    function test_extendChannel_RevertsWhenNewExpiryIsNotLater() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 expiry = _channel(id).expiry;
        vm.startPrank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry));
        escrow.extendChannel(id, expiry);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, expiry - 1));
        escrow.extendChannel(id, expiry - 1);
        vm.stopPrank();
    }

    function test_extendChannel_RevertsWhenDeadlineExceeds40Bits() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 newExpiry = uint256(type(uint40).max) - CHALLENGE + 1;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, newExpiry));
        escrow.extendChannel(id, newExpiry);
    }

    function testFuzz_extendChannel_RevertsWithInvalidExpiryAboveTheLastDeadline(uint256 newExpiry) public {
        uint256 id = _open(payer, provider, AMOUNT);
        newExpiry = bound(newExpiry, uint256(type(uint40).max) - CHALLENGE + 1, type(uint256).max);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, newExpiry));
        escrow.extendChannel(id, newExpiry);
    }

    function test_extendChannel_RevertsWhenNewExpiryIsHuge() public {
        // Documented as Escrow_InvalidExpiry, also where newExpiry + challengePeriod overflows.
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 newExpiry = type(uint256).max;
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidExpiry.selector, newExpiry));
        escrow.extendChannel(id, newExpiry);
    }

    function test_extendChannel_SucceedsAndEmitsChannelExtended() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 newExpiry = _channel(id).expiry + 1;
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelExtended(id, newExpiry);
        vm.prank(payer);
        escrow.extendChannel(id, newExpiry);
        IComputeEscrow.Channel memory c = _channel(id);
        assertEq(c.expiry, newExpiry, "expiry moved");
        assertEq(c.deadline, newExpiry + CHALLENGE, "deadline follows");
    }

    function test_extendChannel_SucceedsAfterExpiryWithinTheRedeemWindow() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline - 1);
        vm.prank(payer);
        escrow.extendChannel(id, block.timestamp + 1 days);
        _deposit(payer, 1);
        vm.prank(payer);
        escrow.fundChannel(id, 1);
        assertEq(_channel(id).amount, AMOUNT + 1, "an extended channel takes funds again");
    }
}
