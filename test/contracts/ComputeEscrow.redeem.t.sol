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
        vm.expectRevert(_err(IComputeEscrow.Escrow_ChannelNotFound.selector, 7));
        escrow.redeem(7, 1, _sign(PAYER_KEY, 7, 1));
    }

    function test_redeem_SucceedsAndEmitsRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 fee = _feeOf(10 ether, FEE_BPS);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(id, provider, 10 ether, 10 ether - fee, fee);
        _redeem(id, 10 ether);
        assertEq(token.balanceOf(provider), 10 ether - fee, "provider paid net");
        assertEq(escrow.accruedFees(), fee, "fee accrued");
        assertEq(_channel(id).redeemed, 10 ether, "redeemed recorded");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsCumulativelyPayingOnlyTheDifference() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 10 ether);
        _redeem(id, 25 ether);
        _redeem(id, AMOUNT);
        uint256 fees = _feeOf(10 ether, FEE_BPS) + _feeOf(15 ether, FEE_BPS) + _feeOf(75 ether, FEE_BPS);
        assertEq(token.balanceOf(provider), AMOUNT - fees, "provider got the whole channel net");
        assertEq(escrow.accruedFees(), fees, "fees");
        _assertAccounting(0);
    }

    function test_redeem_SucceedsWhenSubmittedByAnyone() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        vm.prank(stranger);
        escrow.redeem(id, 10 ether, sig);
        assertEq(token.balanceOf(stranger), 0, "submitter gets nothing");
        assertEq(token.balanceOf(provider), 10 ether - _feeOf(10 ether, FEE_BPS), "provider gets paid");
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
        assertEq(escrow.accruedFees(), 0, "no fee");
    }

    function test_redeem_RevertsWhenChannelIsClosed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.prank(provider);
        escrow.closeChannel(id);
        bytes memory sig = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_errStatus(id, IComputeEscrow.ChannelStatus.Closed));
        escrow.redeem(id, 1 ether, sig);
    }

    function test_redeem_RevertsWhenRedeemWindowIsOver() public {
        uint256 id = _open(payer, provider, AMOUNT);
        uint256 deadline = _channel(id).deadline;
        vm.warp(deadline);
        bytes memory sig = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_RedeemWindowOver.selector, id, deadline));
        escrow.redeem(id, 1 ether, sig);
    }

    function test_redeem_RevertsWhenCumulativeAmountIsZero() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 0);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 0, 0));
        escrow.redeem(id, 0, sig);
    }

    function test_redeem_RevertsWhenCumulativeAmountEqualsRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        _redeem(id, 10 ether);
        bytes memory sig = _sign(PAYER_KEY, id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 10 ether, 10 ether));
        escrow.redeem(id, 10 ether, sig);
    }

    function test_redeem_RevertsWhenCumulativeAmountIsBelowRedeemed() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory older = _sign(PAYER_KEY, id, 5 ether);
        _redeem(id, 10 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, id, 5 ether, 10 ether));
        escrow.redeem(id, 5 ether, older);
    }

    function test_redeem_RevertsWhenAmountExceedsChannel() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, AMOUNT + 1);
        vm.expectRevert(_err(IComputeEscrow.Escrow_AmountExceedsChannel.selector, id, AMOUNT + 1, AMOUNT));
        escrow.redeem(id, AMOUNT + 1, sig);
    }

    function test_redeem_SucceedsAboveTheOldAmountAfterFunding() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, AMOUNT + 1);
        _deposit(payer, 1);
        vm.prank(payer);
        escrow.fundChannel(id, 1);
        escrow.redeem(id, AMOUNT + 1, sig);
        assertEq(_channel(id).redeemed, AMOUNT + 1, "redeemed the topped-up channel");
    }

    function test_redeem_RevertsWhenSignerIsNotThePayer() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER2_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, sig);
        bytes memory byProvider = _sign(PROVIDER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, byProvider);
    }

    function test_redeem_RevertsWhenSignatureIsEmptyOrGarbage() public {
        uint256 id = _open(payer, provider, AMOUNT);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, "");
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 1 ether, new bytes(65));
    }

    function test_redeem_RevertsWhenSignatureIsForAnotherAmount() public {
        uint256 id = _open(payer, provider, AMOUNT);
        bytes memory sig = _sign(PAYER_KEY, id, 1 ether);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, id));
        escrow.redeem(id, 2 ether, sig);
    }

    // ---- redeemBatch ----

    function _voucher(uint256 key, uint256 id, uint256 cumulative)
        private
        view
        returns (IComputeEscrow.SignedVoucher memory)
    {
        return IComputeEscrow.SignedVoucher({channelId: id, cumulativeAmount: cumulative, signature: _sign(key, id, cumulative)});
    }

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
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](5);
        vs[0] = _voucher(PAYER_KEY, a1, 10 ether);
        vs[1] = _voucher(PAYER_KEY, b1, 20 ether);
        vs[2] = _voucher(PAYER2_KEY, a2, 30 ether);
        vs[3] = _voucher(PAYER2_KEY, b2, 40 ether);
        vs[4] = _voucher(PAYER_KEY, a1, 15 ether);
        vm.recordLogs();
        escrow.redeemBatch(vs);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(_countTransfersFromEscrow(logs, provider), 1, "one transfer to provider");
        assertEq(_countTransfersFromEscrow(logs, provider2), 1, "one transfer to provider2");
        uint256 grossA = 15 ether + 30 ether;
        uint256 feeA = _feeOf(10 ether, FEE_BPS) + _feeOf(5 ether, FEE_BPS) + _feeOf(30 ether, FEE_BPS);
        uint256 feeB = _feeOf(20 ether, FEE_BPS) + _feeOf(40 ether, FEE_BPS);
        assertEq(token.balanceOf(provider), grossA - feeA, "provider total");
        assertEq(token.balanceOf(provider2), 60 ether - feeB, "provider2 total");
        assertEq(escrow.accruedFees(), feeA + feeB, "fees");
        assertEq(_channel(a1).redeemed, 15 ether, "a1 took the later voucher");
        _assertAccounting(0);
    }

    function test_redeemBatch_SucceedsAndEmitsRedeemedPerVoucher() public {
        uint256 a = _open(payer, provider, AMOUNT);
        uint256 b = _open(payer2, provider2, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](2);
        vs[0] = _voucher(PAYER_KEY, a, 1 ether);
        vs[1] = _voucher(PAYER2_KEY, b, 2 ether);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(a, provider, 1 ether, 1 ether - _feeOf(1 ether, FEE_BPS), _feeOf(1 ether, FEE_BPS));
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Redeemed(b, provider2, 2 ether, 2 ether - _feeOf(2 ether, FEE_BPS), _feeOf(2 ether, FEE_BPS));
        escrow.redeemBatch(vs);
    }

    function test_redeemBatch_RevertsWholeWhenOneVoucherIsInvalid() public {
        uint256 a = _open(payer, provider, AMOUNT);
        uint256 b = _open(payer2, provider2, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](2);
        vs[0] = _voucher(PAYER_KEY, a, 1 ether);
        vs[1] = _voucher(PAYER_KEY, b, 2 ether); // signed by the wrong payer
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidSignature.selector, b));
        escrow.redeemBatch(vs);
        assertEq(_channel(a).redeemed, 0, "nothing recorded");
        assertEq(token.balanceOf(provider), 0, "nothing paid");
    }

    function test_redeemBatch_RevertsWhenTheSameVoucherAppearsTwice() public {
        uint256 a = _open(payer, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](2);
        vs[0] = _voucher(PAYER_KEY, a, 1 ether);
        vs[1] = vs[0];
        vm.expectRevert(_err(IComputeEscrow.Escrow_NothingToRedeem.selector, a, 1 ether, 1 ether));
        escrow.redeemBatch(vs);
    }

    function test_redeemBatch_SucceedsWithOneVoucher() public {
        uint256 a = _open(payer, provider, AMOUNT);
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](1);
        vs[0] = _voucher(PAYER_KEY, a, AMOUNT);
        escrow.redeemBatch(vs);
        assertEq(token.balanceOf(provider), AMOUNT - _feeOf(AMOUNT, FEE_BPS), "paid");
    }

    function test_redeemBatch_SucceedsWithOneWeiWhoseFeeFloorsToZero() public {
        uint256 a = _open(payer, provider, 3);
        IComputeEscrow.SignedVoucher[] memory vs = new IComputeEscrow.SignedVoucher[](1);
        vs[0] = _voucher(PAYER_KEY, a, 1);
        escrow.redeemBatch(vs);
        assertEq(token.balanceOf(provider), 1, "dust paid, fee floored to zero");
    }

    function testFuzz_redeem_PaysGrossMinusFloorFee(uint256 amount, uint256 first, uint256 second) public {
        amount = bound(amount, 2, PAYER_FUNDS);
        first = bound(first, 1, amount - 1);
        second = bound(second, first + 1, amount);
        uint256 id = _open(payer, provider, amount);
        _redeem(id, first);
        _redeem(id, second);
        uint256 fees = _feeOf(first, FEE_BPS) + _feeOf(second - first, FEE_BPS);
        assertEq(token.balanceOf(provider) + escrow.accruedFees(), second, "paid + fee == gross");
        assertEq(escrow.accruedFees(), fees, "floored fee per redeem");
        _assertAccounting(0);
    }
}
