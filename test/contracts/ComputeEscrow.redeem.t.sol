// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";
import {Vm} from "./utils/Vm.sol";

/// @notice redeem, redeemBatch and voucherDigest.
contract ComputeEscrowRedeemTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;

    function test_voucherDigest_MatchesEip712TypedData() public {
        uint256 id = _open(payer, provider, AMOUNT);
        assertEq(escrow.voucherDigest(id, 5 ether), _digest(address(escrow), id, 5 ether), "digest");
        (, string memory name, string memory version, uint256 chainId, address verifying,,) = escrow.eip712Domain();
        assertEq(name, "gridspot", "domain name");
        assertEq(version, "1", "domain version");
        assertEq(chainId, block.chainid, "domain chain id");
        assertEq(verifying, address(escrow), "verifying contract");
    }

    function test_redeem_RevertsWhenChannelDoesNotExist() public {
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, 7, 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 7));
        escrow.redeem(7, 1, r, vs);
    }

    function test_redeem_SucceedsAndEmitsRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 net = _netOf(10 ether, FEE_BPS);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(id, 10 ether, net);
        _redeem(id, 10 ether);
        assertEq(token.balanceOf(provider), net, "provider paid net");
        assertEq(escrow.accruedFees(), 0, "the fee stays with the channel until it closes");
        assertEq(_pendingFee(id), _feeOf(10 ether, FEE_BPS), "fee held by the channel");
        assertEq(_channel(id).redeemed, 10 ether, "redeemed recorded");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsCumulativelyPayingOnlyTheDifference() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 10 ether);
        assertEq(token.balanceOf(provider), _netOf(10 ether, FEE_BPS), "first voucher");
        _redeem(id, 25 ether);
        assertEq(token.balanceOf(provider), _netOf(25 ether, FEE_BPS), "second voucher pays the difference");
        _redeem(id, AMOUNT);
        assertEq(token.balanceOf(provider), _netOf(AMOUNT, FEE_BPS), "provider got the whole channel net");
        assertEq(escrow.accruedFees(), 0, "nothing accrued while open");
        _assertAccounting(0);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.accruedFees(), _feeOf(AMOUNT, FEE_BPS), "fee of the total at close");
        assertEq(token.balanceOf(provider) + escrow.accruedFees(), AMOUNT, "provider + fee == redeemed");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsWhenSubmittedByAnyone() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(stranger);
        escrow.redeem(id, 10 ether, r, vs);
        assertEq(token.balanceOf(stranger), 0, "submitter gets nothing");
        assertEq(token.balanceOf(provider), _netOf(10 ether, FEE_BPS), "provider gets paid");
    }

    function test_redeem_SucceedsWhileClosing() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(payer);
        escrow.requestClose(id);
        _redeem(id, 40 ether);
        assertEq(_channel(id).redeemed, 40 ether, "redeemed during the challenge window");
    }

    function test_redeem_SucceedsWithZeroFeeChannel() public {
        vm.prank(owner);
        escrow.setFeeBps(0);
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, AMOUNT);
        assertEq(token.balanceOf(provider), AMOUNT, "all to the provider");
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.ChannelClosed(id, provider, 0, 0);
        vm.prank(provider);
        escrow.closeChannel(id);
        assertEq(escrow.accruedFees(), 0, "no fee");
    }

    function test_redeem_RevertsWhenChannelIsClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 1 ether, r, vs);
    }

    function test_redeem_RevertsWhenRedeemWindowIsOver() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_RedeemWindowOver.selector, id, deadline));
        escrow.redeem(id, 1 ether, r, vs);
    }

    function test_redeem_RevertsWhenCumulativeAmountIsZero() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 0);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 0, 0));
        escrow.redeem(id, 0, r, vs);
    }

    function test_redeem_RevertsWhenCumulativeAmountEqualsRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 10 ether);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 10 ether, 10 ether));
        escrow.redeem(id, 10 ether, r, vs);
    }

    function test_redeem_RevertsWhenCumulativeAmountIsBelowRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 olderR, bytes32 olderVs) = _sign(PAYER_KEY, id, 5 ether);
        _redeem(id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 5 ether, 10 ether));
        escrow.redeem(id, 5 ether, olderR, olderVs);
    }

    function test_redeem_RevertsWhenAmountExceedsChannel() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, AMOUNT + 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_AmountExceedsChannel.selector, id, AMOUNT + 1, AMOUNT));
        escrow.redeem(id, AMOUNT + 1, r, vs);
    }

    function test_redeem_SucceedsAboveTheOldAmountAfterFunding() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, AMOUNT + 1);
        _deposit(payer, 1);
        vm.prank(payer);
        escrow.fundChannel(id, 1);
        escrow.redeem(id, AMOUNT + 1, r, vs);
        assertEq(_channel(id).redeemed, AMOUNT + 1, "redeemed the topped-up channel");
    }

    function test_redeem_RevertsWhenSignerIsNotThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER2_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, r, vs);
        (bytes32 byProviderR, bytes32 byProviderVs) = _sign(PROVIDER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, byProviderR, byProviderVs);
    }

    function test_redeem_RevertsWhenSignatureIsZero() public {
        // r = 0 recovers to nobody (address(0)), which must never pass for a payer.
        uint256 id = _open(payer, provider, AMOUNT);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, bytes32(0), bytes32(0));
        (, bytes32 vs) = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, bytes32(0), vs);
    }

    function test_redeem_RevertsWhenSignatureIsForAnotherAmount() public {
        uint256 id = _open(payer, provider, AMOUNT);
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 2 ether, r, vs);
    }

    // ---- redeemBatch ----

    function _countTransfersFromEscrow(Vm.Log[] memory logs, address to) private view returns (uint256 n) {
        for (uint256 i; i < logs.length; ++i) {
            Vm.Log memory entry = logs[i];
            if (
                entry.emitter == address(token) && entry.topics.length == 3
                    && entry.topics[0] == IERC20.Transfer.selector
                    && entry.topics[1] == bytes32(uint256(uint160(address(escrow))))
                    && entry.topics[2] == bytes32(uint256(uint160(to)))
            ) ++n;
        }
    }

    function test_redeemBatch_RevertsWhenEmpty() public {
        vm.expectRevert(IComputeEscrow.Escrow_EmptyBatch.selector);
        escrow.redeemBatch(new IComputeEscrow.SignedVoucher[](0));
    }

    function test_redeemBatch_SucceedsPayingEachProviderOnceWithInterleavedProviders() public {
        uint256 a1 = _open(payer, provider, AMOUNT);
        uint256 b1 = _open(payer, provider2, AMOUNT);
        uint256 a2 = _open(payer2, provider, AMOUNT);
        uint256 b2 = _open(payer2, provider2, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](5);
        batch[0] = _voucher(PAYER_KEY, a1, 10 ether + 1);
        batch[1] = _voucher(PAYER_KEY, b1, 20 ether);
        batch[2] = _voucher(PAYER2_KEY, a2, 30 ether);
        batch[3] = _voucher(PAYER2_KEY, b2, 40 ether);
        batch[4] = _voucher(PAYER_KEY, a1, 15 ether);
        vm.recordLogs();
        escrow.redeemBatch(batch);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(_countTransfersFromEscrow(logs, provider), 1, "one transfer to provider");
        assertEq(_countTransfersFromEscrow(logs, provider2), 1, "one transfer to provider2");
        // a1 went 0 → 10 ether + 1 → 15 ether in one batch: paid net(15 ether), not two rounded parts.
        uint256 netA = _netOf(15 ether, FEE_BPS) + _netOf(30 ether, FEE_BPS);
        uint256 netB = _netOf(20 ether, FEE_BPS) + _netOf(40 ether, FEE_BPS);
        assertEq(token.balanceOf(provider), netA, "provider total");
        assertEq(token.balanceOf(provider2), netB, "provider2 total");
        assertEq(escrow.accruedFees(), 0, "fees stay with the channels");
        assertEq(_channel(a1).redeemed, 15 ether, "a1 took the later voucher");
        _assertAccounting(0);
    }

    function test_redeemBatch_SucceedsAndEmitsRedeemedPerVoucher() public {
        uint256 a = _open(payer, provider, AMOUNT);
        uint256 b = _open(payer2, provider2, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](3);
        batch[0] = _voucher(PAYER_KEY, a, 1 ether);
        batch[1] = _voucher(PAYER2_KEY, b, 2 ether);
        batch[2] = _voucher(PAYER_KEY, a, 3 ether);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(a, 1 ether, _netOf(1 ether, FEE_BPS));
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(b, 2 ether, _netOf(2 ether, FEE_BPS));
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(a, 3 ether, _netOf(3 ether, FEE_BPS) - _netOf(1 ether, FEE_BPS));
        escrow.redeemBatch(batch);
    }

    function test_redeemBatch_RevertsWholeWhenOneVoucherIsInvalid() public {
        uint256 a = _open(payer, provider, AMOUNT);
        uint256 b = _open(payer2, provider2, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](2);
        batch[0] = _voucher(PAYER_KEY, a, 1 ether);
        batch[1] = _voucher(PAYER_KEY, b, 2 ether); // signed by the wrong payer
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, b));
        escrow.redeemBatch(batch);
        assertEq(_channel(a).redeemed, 0, "nothing recorded");
        assertEq(token.balanceOf(provider), 0, "nothing paid");
    }

    function test_redeemBatch_RevertsWhenOneVoucherCarriesAnotherVouchersSignature() public {
        uint256 a = _open(payer, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](2);
        batch[0] = _voucher(PAYER_KEY, a, 1 ether);
        batch[1] = _voucher(PAYER_KEY, a, 2 ether);
        batch[1].vs = batch[0].vs;
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, a));
        escrow.redeemBatch(batch);
        assertEq(_channel(a).redeemed, 0, "nothing recorded");
    }

    function test_redeemBatch_SucceedsSkippingTheSameVoucherTheSecondTime() public {
        uint256 a = _open(payer, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](2);
        batch[0] = _voucher(PAYER_KEY, a, 1 ether);
        batch[1] = batch[0];
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.RedeemSkipped(a, 1 ether, 1 ether);
        escrow.redeemBatch(batch);
        assertEq(token.balanceOf(provider), _netOf(1 ether, FEE_BPS), "paid once");
        _assertAccounting(0);
    }

    function test_redeemBatch_SucceedsWhenOnePayersVoucherWasRedeemedFirst() public {
        uint256 a = _open(payer, provider, AMOUNT);
        uint256 b = _open(payer2, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](2);
        batch[0] = _voucher(PAYER_KEY, a, 5 ether);
        batch[1] = _voucher(PAYER2_KEY, b, 7 ether);
        // The first payer's voucher lands on its own first (a redeem before a restart, a replay),
        // and then a later one too: the batch's older voucher is below what was redeemed.
        _redeem(a, 5 ether);
        _redeem(a, 6 ether);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.RedeemSkipped(a, 5 ether, 6 ether);
        escrow.redeemBatch(batch);
        assertEq(_channel(a).redeemed, 6 ether, "a keeps the higher amount");
        assertEq(_channel(b).redeemed, 7 ether, "b redeemed");
        assertEq(token.balanceOf(provider), _netOf(6 ether, FEE_BPS) + _netOf(7 ether, FEE_BPS), "each paid once");
        _assertAccounting(0);
    }

    function test_redeemBatch_SucceedsWhenEveryVoucherWasAlreadyRedeemed() public {
        uint256 a = _open(payer, provider, AMOUNT);
        _redeem(a, 2 ether);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](1);
        batch[0] = _voucher(PAYER_KEY, a, 2 ether);
        escrow.redeemBatch(batch);
        assertEq(token.balanceOf(provider), _netOf(2 ether, FEE_BPS), "nothing paid twice");
    }

    function test_redeemBatch_SucceedsWithOneVoucher() public {
        uint256 a = _open(payer, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](1);
        batch[0] = _voucher(PAYER_KEY, a, AMOUNT);
        escrow.redeemBatch(batch);
        assertEq(token.balanceOf(provider), _netOf(AMOUNT, FEE_BPS), "paid");
    }

    function test_redeemBatch_SucceedsWithOneWeiWhoseFeeFloorsToZero() public {
        uint256 a = _open(payer, provider, 3);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](1);
        batch[0] = _voucher(PAYER_KEY, a, 1);
        escrow.redeemBatch(batch);
        assertEq(token.balanceOf(provider), 1, "dust paid, fee floored to zero");
    }

    function testFuzz_redeem_PaysTheNetDifference(uint256 amount, uint256 first, uint256 second) public {
        amount = bound(amount, 2, PAYER_FUNDS);
        first = bound(first, 1, amount - 1);
        second = bound(second, first + 1, amount);
        uint256 id = _open(payer, provider, amount);
        _redeem(id, first);
        assertEq(token.balanceOf(provider), _netOf(first, FEE_BPS), "first pays net(first)");
        _redeem(id, second);
        assertEq(token.balanceOf(provider), _netOf(second, FEE_BPS), "second pays net(second) - net(first)");
        assertEq(escrow.accruedFees(), 0, "no fee accrued while open");
        assertEq(token.balanceOf(provider) + _pendingFee(id), second, "paid + held fee == redeemed");
        _assertAccounting(0);
    }

    function testFuzz_redeemBatch_PaysTheSameAsSingleRedemptions(uint256 amount, uint256 first, uint256 second)
        public
    {
        amount = bound(amount, 2, PAYER_FUNDS);
        first = bound(first, 1, amount - 1);
        second = bound(second, first + 1, amount);
        uint256 single = _open(payer, provider, amount);
        uint256 batched = _open(payer2, provider2, amount);
        _redeem(single, first);
        _redeem(single, second);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](2);
        batch[0] = _voucher(PAYER2_KEY, batched, first);
        batch[1] = _voucher(PAYER2_KEY, batched, second);
        escrow.redeemBatch(batch);
        assertEq(token.balanceOf(provider2), token.balanceOf(provider), "batch pays what single redeems pay");
        assertEq(_pendingFee(batched), _pendingFee(single), "same fee held");
        _assertAccounting(0);
    }
}
