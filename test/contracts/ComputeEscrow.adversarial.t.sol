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
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        escrow.redeem(id, 10 ether, r, vs);
        uint256 paid = token.balanceOf(provider);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 10 ether, 10 ether));
        escrow.redeem(id, 10 ether, r, vs);
        assertEq(token.balanceOf(provider), paid, "paid once");
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherChannel() public {
        uint256 first = _open(payer, provider, AMOUNT);
        uint256 second = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, first, 10 ether);
        escrow.redeem(first, 10 ether, r, vs);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, second));
        escrow.redeem(second, 10 ether, r, vs);
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherChainId() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        uint256 original = block.chainid;
        vm.chainId(original + 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, vs);
        // The escrow follows the chain id: a voucher signed for the new chain id does redeem.
        (bytes32 r2, bytes32 vs2) = _sign(PAYER_KEY, id, 10 ether);
        escrow.redeem(id, 10 ether, r2, vs2);
        vm.chainId(original);
        assertEq(_channel(id).redeemed, 10 ether, "only the matching chain id redeemed");
    }

    function test_redeem_RevertsWhenVoucherIsReplayedOnAnotherEscrow() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        IComputeEscrow other = _deployEscrow();
        vm.prank(payer);
        token.approve(address(other), type(uint256).max);
        vm.prank(payer);
        other.deposit(AMOUNT);
        vm.prank(payer);
        uint256 otherId = other.openChannel(provider, AMOUNT, block.timestamp + 1 days);
        assertEq(otherId, id, "same channel id on both deployments");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        other.redeem(id, 10 ether, r, vs);
        (bytes32 otherR, bytes32 otherVs) = _signFor(address(other), PAYER_KEY, id, 10 ether);
        other.redeem(id, 10 ether, otherR, otherVs);
        assertEq(other.getChannel(id).redeemed, 10 ether, "its own voucher redeems there");
    }

    function testFuzz_redeem_RevertsWhenCumulativeIsNotAboveRedeemed(uint256 redeemed, uint256 stale) public {
        redeemed = bound(redeemed, 1, AMOUNT);
        stale = bound(stale, 0, redeemed);
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, redeemed);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, stale);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, stale, redeemed));
        escrow.redeem(id, stale, r, vs);
    }

    function testFuzz_redeem_RevertsWhenAboveChannelAmount(uint256 amount, uint256 cumulative) public {
        amount = bound(amount, 1, PAYER_FUNDS);
        cumulative = bound(cumulative, amount + 1, type(uint256).max);
        uint256 id = _open(payer, provider, amount);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, cumulative);
        vm.expectRevert(_err(IComputeEscrow.Escrow_AmountExceedsChannel.selector, id, cumulative, amount));
        escrow.redeem(id, cumulative, r, vs);
    }

    // ---- signatures (EIP-2098 compact: r, and vs = parity bit · 2^255 + s) ----

    function test_redeem_SucceedsWithTheCompactFormOfTheLowSSignature() public {
        // Control for the cases below: the honest signature, compacted, redeems.
        uint256 id = _open(payer, provider, AMOUNT);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(address(escrow), id, 10 ether));
        assertLe(uint256(s), SECP256K1_N / 2, "vm.sign gives low s");
        escrow.redeem(id, 10 ether, r, _compact(v, s));
        assertEq(_channel(id).redeemed, 10 ether, "redeemed");
    }

    function test_redeem_RevertsWhenTheSignatureIsTheHighSTwin() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes32 digest = _digest(address(escrow), id, 10 ether);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, digest);
        // (r, n − s, v flipped) recovers the same address: the malleable twin of a valid signature.
        uint256 highS = SECP256K1_N - uint256(s);
        uint8 flippedV = v == 27 ? 28 : 27;
        assertEq(ecrecover(digest, flippedV, r, bytes32(highS)), payer, "twin recovers the payer");
        // Compact form has 255 bits for s: this high s sets the top bit, which reads as the parity,
        // so the twin cannot be expressed; whatever it turns into must not redeem.
        assertGe(highS, 1 << 255, "this high s does not fit 255 bits");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, _compact(flippedV, bytes32(highS)));
        bytes32 truncated = bytes32(highS & ((1 << 255) - 1));
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, _compact(flippedV, truncated));
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, _compact(v, truncated));
        assertEq(_channel(id).redeemed, 0, "nothing redeemed");
    }

    function testFuzz_redeem_RevertsWhenCompactSIsAboveHalfTheOrder(uint256 s, bool parity) public {
        // The high s values that do fit vs's 255 bits, (n/2, 2^255): no key we hold signs one on
        // purpose, so take any such (r, s), make the address it recovers to the payer, and check
        // the escrow refuses it while its low-s twin (n − s, other parity) redeems.
        s = bound(s, SECP256K1_N / 2 + 1, (1 << 255) - 1);
        uint256 id = escrow.lastChannelId() + 1;
        bytes32 digest = _digest(address(escrow), id, 10 ether);
        (, bytes32 r,) = vm.sign(PAYER_KEY, digest); // any x-coordinate on the curve will do
        uint8 v = parity ? 28 : 27;
        address signer = ecrecover(digest, v, r, bytes32(s));
        assertTrue(signer != address(0) && signer != provider, "the high-s signature recovers someone");
        _fundAndApprove(signer, AMOUNT);
        assertEq(_open(signer, provider, AMOUNT), id, "channel id as signed");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, _compact(v, bytes32(s)));
        escrow.redeem(id, 10 ether, r, _compact(parity ? 27 : 28, bytes32(SECP256K1_N - s)));
        assertEq(_channel(id).redeemed, 10 ether, "the low-s twin redeemed");
    }

    function test_redeem_RevertsWhenTheParityBitIsFlipped() public {
        // The other parity recovers another address from the same (r, s).
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, bytes32(uint256(vs) ^ (1 << 255)));
    }

    function test_redeem_RevertsWhenRAndVsComeFromDifferentVouchers() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r1, bytes32 vs1) = _sign(PAYER_KEY, id, 10 ether);
        (bytes32 r2, bytes32 vs2) = _sign(PAYER_KEY, id, 20 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r1, vs2);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 20 ether, r2, vs1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 20 ether, r1, vs1);
        assertEq(_channel(id).redeemed, 0, "nothing redeemed");
    }

    function test_redeem_RevertsWhenGarbageRecoversToNobody() public {
        // r = 0 is not a curve point: ecrecover returns address(0), which must never count.
        uint256 id = _open(payer, provider, AMOUNT);
        (, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        bytes32 s = bytes32(uint256(vs) & ((1 << 255) - 1));
        assertEq(ecrecover(_digest(address(escrow), id, 10 ether), 27, bytes32(0), s), address(0), "recovers nobody");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, bytes32(0), vs);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, bytes32(0), bytes32(0));
    }

    function testFuzz_redeem_RevertsWhenRAndVsAreGarbage(bytes32 r, bytes32 vs) public {
        // Random (r, vs) recover to address(0) or to some unrelated address, never to the payer.
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 goodR, bytes32 goodVs) = _sign(PAYER_KEY, id, 10 ether);
        if (r == goodR && vs == goodVs) r = bytes32(uint256(r) ^ 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 10 ether, r, vs);
    }

    function test_redeem_RevertsWhenAttackerSignsForSomeoneElsesChannel() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(ATTACKER_KEY, id, AMOUNT);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, AMOUNT, r, vs);
    }

    function test_redeem_RevertsAfterFinalize() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(payer);
        escrow.requestClose(id);
        vm.warp(_channel(id).deadline);
        vm.prank(payer);
        escrow.finalizeClose(id);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 10 ether, r, vs);
        assertEq(token.balanceOf(provider), 0, "nothing paid after finalize");
    }

    function test_redeem_RevertsAfterProviderClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(provider);
        escrow.closeChannel(id);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 10 ether, r, vs);
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

    function test_finalizeClose_RevertsWhenAThirdPartyTriesBeforeTheDeadline() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline - 1);
        vm.prank(stranger);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChallengeWindowOpen.selector, id, deadline));
        escrow.finalizeClose(id);
        assertTrue(_channel(id).status == IComputeEscrow.ChannelStatus.Closing, "not closed");
        // The provider keeps its last second to redeem.
        _redeem(id, 10 ether);
        assertEq(_channel(id).redeemed, 10 ether, "provider redeemed before the deadline");
    }

    function test_finalizeClose_SucceedsForAThirdPartyAfterTheDeadlineChangingNothing() public {
        // Twin channels, same redemption and the same deadline: one finalized by its payer, the
        // other by a stranger. The outcome is fixed once the window is over, whoever finalizes.
        uint256 byPayer = _openWithExpiry(payer, provider, AMOUNT, block.timestamp + 1 hours);
        uint256 byStranger = _openWithExpiry(payer2, provider2, AMOUNT, block.timestamp + 1 hours);
        _redeem(byPayer, 40 ether + 7);
        (bytes32 r, bytes32 vs) = _sign(PAYER2_KEY, byStranger, 40 ether + 7);
        escrow.redeem(byStranger, 40 ether + 7, r, vs);
        vm.warp(_channel(byPayer).deadline);
        uint256 fee = _feeOf(40 ether + 7, FEE_BPS);
        uint256 refund = AMOUNT - 40 ether - 7;

        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(byPayer, payer, refund, fee);
        vm.prank(payer);
        escrow.finalizeClose(byPayer);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(byStranger, stranger, refund, fee);
        vm.prank(stranger);
        escrow.finalizeClose(byStranger);

        assertEq(escrow.freeBalance(payer2), escrow.freeBalance(payer), "same refund to the payer");
        assertEq(escrow.freeBalance(payer2), refund, "refund");
        assertEq(escrow.freeBalance(stranger), 0, "the stranger gets nothing");
        assertEq(token.balanceOf(stranger), 0, "nor any token");
        assertEq(escrow.accruedFees(), 2 * fee, "same fee from both");
        assertEq(token.balanceOf(provider2), token.balanceOf(provider), "same provider pay");
        _assertAccounting(0);
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
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(stranger);
        escrow.redeem(id, 10 ether, r, vs);
        assertEq(token.balanceOf(stranger), 0, "stranger gets nothing");
        assertEq(token.balanceOf(provider), _netOf(10 ether, FEE_BPS), "provider gets paid");
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
