// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

/// @notice Voucher replay, malleable and malformed signatures, and third parties meddling with
/// channels that are not theirs.
contract ComputeEscrowAdversarialTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;
    uint256 private constant ATTACKER_KEY = 0xBAD;

    // ---- replay ----

    function test_redeem_RevertsWhenTheSameVoucherIsReplayed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        escrow.redeem(id, 10 ether, sig);
        uint256 paid = token.balanceOf(provider);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 10 ether, 10 ether));
        escrow.redeem(id, 10 ether, sig);
        assertEq(token.balanceOf(provider), paid, "paid once");
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherChannel() public {
        uint256 first = _open(payer, provider, AMOUNT);
        uint256 second = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, first, 10 ether);
        escrow.redeem(first, 10 ether, sig);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, second));
        escrow.redeem(second, 10 ether, sig);
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherChainId() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        uint256 original = block.chainid;
        vm.chainId(original + 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, sig);
        // The escrow follows the chain id: a voucher signed for the new chain id does redeem.
        escrow.redeem(id, 10 ether, _sign(PAYER_KEY, id, 10 ether));
        vm.chainId(original);
        assertEq(_channel(id).redeemed, 10 ether, "only the matching chain id redeemed");
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherEscrow() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        IComputeEscrow other = _deployEscrow();
        vm.prank(payer);
        token.approve(address(other), type(uint256).max);
        vm.prank(payer);
        other.deposit(AMOUNT);
        vm.prank(payer);
        uint256 otherId = other.openChannel(provider, AMOUNT, block.timestamp + 1 days);
        assertEq(otherId, id, "same channel id on both deployments");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        other.redeem(id, 10 ether, sig);
        other.redeem(id, 10 ether, _signFor(address(other), PAYER_KEY, id, 10 ether));
    }

    function testFuzz_redeem_RevertsWhenCumulativeIsNotAboveRedeemed(uint256 redeemed, uint256 stale) public {
        redeemed = bound(redeemed, 1, AMOUNT);
        stale = bound(stale, 0, redeemed);
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, redeemed);
        bytes memory sig = _sign(PAYER_KEY, id, stale);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, stale, redeemed));
        escrow.redeem(id, stale, sig);
    }

    function testFuzz_redeem_RevertsWhenAboveChannelAmount(uint256 amount, uint256 cumulative) public {
        amount = bound(amount, 1, PAYER_FUNDS);
        cumulative = bound(cumulative, amount + 1, type(uint256).max);
        uint256 id = _open(payer, provider, amount);
        bytes memory sig = _sign(PAYER_KEY, id, cumulative);
        vm.expectRevert(_err(IComputeEscrow.Escrow_AmountExceedsChannel.selector, id, cumulative, amount));
        escrow.redeem(id, cumulative, sig);
    }

    // ---- signatures ----

    function test_redeem_RevertsWhenSignatureIsCompactEip2098() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(address(escrow), id, 10 ether));
        bytes32 vs = bytes32(uint256(s) | (uint256(v - 27) << 255));
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, abi.encodePacked(r, vs));
    }

    function test_redeem_RevertsWhenSignatureHasHighS() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(address(escrow), id, 10 ether));
        // (r, n - s, v ^ 1) recovers the same address: the malleable twin.
        bytes32 highS = bytes32(SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        assertEq(
            ecrecover(_digest(address(escrow), id, 10 ether), flippedV, r, highS), payer, "twin recovers the payer"
        );
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, abi.encodePacked(r, highS, flippedV));
    }

    function test_redeem_RevertsWhenVIsNot27Or28() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(address(escrow), id, 10 ether));
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, abi.encodePacked(r, s, v - 27));
    }

    function test_redeem_RevertsWhenSignatureHasTrailingBytes() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = abi.encodePacked(_sign(PAYER_KEY, id, 10 ether), uint8(0));
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, sig);
    }

    function test_redeem_RevertsWhenAttackerSignsForSomeoneElsesChannel() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(ATTACKER_KEY, id, AMOUNT);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, AMOUNT, sig);
    }

    function test_redeem_RevertsAfterFinalize() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.prank(payer);
        escrow.finalizeClose(id);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 10 ether, sig);
        assertEq(token.balanceOf(provider), 0, "nothing paid after finalize");
    }

    function test_redeem_RevertsAfterProviderClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 10 ether, sig);
    }

    // ---- third parties ----

    function test_fundChannel_RevertsWhenAThirdPartyTriesToFundIt() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _deposit(payer2, 1 ether);
        vm.prank(payer2);
        vm.expectRevert(_errUnauthorized(id, payer2));
        escrow.fundChannel(id, 1 ether);
        assertEq(_channel(id).amount, AMOUNT, "unchanged");
    }

    function test_extendChannel_RevertsWhenAThirdPartyTriesToResetTheTimer() public {
        uint256 id = _openWithExpiry(payer, provider, AMOUNT, block.timestamp + 1 hours);
        IComputeEscrow.Channel memory before = _channel(id);
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.extendChannel(id, block.timestamp + 365 days);
        vm.prank(provider);
        vm.expectRevert(_errUnauthorized(id, provider));
        escrow.extendChannel(id, block.timestamp + 365 days);
        assertEq(_channel(id).expiry, before.expiry, "expiry unchanged");
        assertEq(_channel(id).deadline, before.deadline, "deadline unchanged");
    }

    function test_requestClose_RevertsWhenAThirdPartyTriesToStartTheWindow() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.requestClose(id);
        assertEq(_channel(id).deadline, deadline, "deadline unchanged");
        assertTrue(_channel(id).status == IComputeEscrow.ChannelStatus.Open, "still open");
    }

    function test_finalizeClose_RevertsWhenAThirdPartyTriesToFinalize() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.warp(_channel(id).deadline);
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.finalizeClose(id);
        vm.prank(payer2);
        vm.expectRevert(_errUnauthorized(id, payer2));
        escrow.finalizeClose(id);
        assertTrue(_channel(id).status == IComputeEscrow.ChannelStatus.Open, "not closed");
    }

    function test_closeChannel_RevertsWhenThePayerTriesToSkipTheWindow() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_errUnauthorized(id, payer));
        escrow.closeChannel(id);
        vm.prank(stranger);
        vm.expectRevert(_errUnauthorized(id, stranger));
        escrow.closeChannel(id);
        assertTrue(_channel(id).status == IComputeEscrow.ChannelStatus.Open, "still open");
    }

    function test_redeem_SucceedsPayingTheProviderWhenAThirdPartySubmits() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(stranger);
        escrow.redeem(id, 10 ether, sig);
        assertEq(token.balanceOf(stranger), 0, "stranger gets nothing");
        assertEq(token.balanceOf(provider), 10 ether - _feeOf(10 ether, FEE_BPS), "provider gets paid");
    }

    function test_withdraw_RevertsWhenAThirdPartyTriesToTakeLockedOrForeignFunds() public {
        _open(payer, provider, AMOUNT);
        _deposit(payer, 5);
        vm.prank(provider);
        vm.expectRevert(_errInsufficient(provider, 0, 1));
        escrow.withdraw(1);
        vm.prank(stranger);
        vm.expectRevert(_errInsufficient(stranger, 0, 5));
        escrow.withdraw(5);
        _assertAccounting(0);
    }
}
