// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ComputeEscrow} from "../../contracts/ComputeEscrow.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {FeeOnTransferToken} from "../../contracts/test/FeeOnTransferToken.sol";
import {ReentrantToken} from "../../contracts/test/ReentrantToken.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

/// @notice Escrows over hostile tokens: one whose transfer hook re-enters the escrow, and one that
/// takes a fee on transfer.
contract ComputeEscrowHostileTokenTest is EscrowFixture {
    uint256 private constant AMOUNT = 100 ether;
    uint256 private constant HOOK_FUNDS = 10 ether;

    ReentrantToken private rtoken;
    ComputeEscrow private resc;

    function setUp() public override {
        super.setUp();
        rtoken = new ReentrantToken();
        resc = new ComputeEscrow(IERC20(address(rtoken)), CHALLENGE, FEE_BPS, feeRecipient, owner);
        rtoken.mint(payer, AMOUNT);
        vm.prank(payer);
        rtoken.approve(address(resc), type(uint256).max);
        // The token contract holds its own free balance in the escrow, so the re-entrant call it
        // makes would succeed if nothing stopped it.
        rtoken.mint(address(rtoken), HOOK_FUNDS);
        rtoken.execute(address(rtoken), abi.encodeCall(IERC20.approve, (address(resc), type(uint256).max)));
        rtoken.execute(address(resc), abi.encodeCall(IComputeEscrow.deposit, (HOOK_FUNDS)));
    }

    function _arm(bytes memory data) private {
        rtoken.setHook(address(resc), data);
    }

    function _assertBlockedOnce(uint256 expectedCalls) private view {
        (uint256 calls, bool ok, bytes memory result) = rtoken.hookResult();
        assertEq(calls, expectedCalls, "the hook ran");
        assertFalse(ok, "the re-entrant call failed");
        assertEq(
            result,
            abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector),
            "blocked by the reentrancy guard"
        );
    }

    /// @dev token balance of the escrow == Σ free + Σ locked + fees held by channels not closed +
    /// accrued fees, for the actors used here.
    function _assertHostileAccounting() private view {
        uint256 owed = resc.freeBalance(payer) + resc.freeBalance(address(rtoken)) + resc.accruedFees();
        for (uint256 id = 1; id <= resc.lastChannelId(); ++id) {
            IComputeEscrow.Channel memory c = resc.getChannel(id);
            owed += uint256(c.amount) - c.redeemed;
            if (c.status != IComputeEscrow.ChannelStatus.Closed) owed += _feeOf(c.redeemed, c.feeBps);
        }
        assertEq(rtoken.balanceOf(address(resc)), owed, "escrow balance == owed");
    }

    function _hostileVoucher(uint256 id, uint256 cumulative)
        private
        view
        returns (IComputeEscrow.SignedVoucher memory)
    {
        (bytes32 r, bytes32 vs) = _signFor(address(resc), PAYER_KEY, id, cumulative);
        return IComputeEscrow.SignedVoucher({channelId: id, cumulativeAmount: cumulative, r: r, vs: vs});
    }

    function test_hook_SucceedsOutsideAGuardedCall() public {
        // Control: the same re-entrant call goes through when the escrow is not mid-call, so the
        // failures below come from the guard and not from the hook itself.
        _arm(abi.encodeCall(IComputeEscrow.withdraw, (1)));
        vm.prank(payer);
        assertTrue(rtoken.transfer(stranger, 1), "plain transfer");
        (uint256 calls, bool ok,) = rtoken.hookResult();
        assertEq(calls, 1, "hook ran");
        assertTrue(ok, "unguarded call succeeded");
        assertEq(resc.freeBalance(address(rtoken)), HOOK_FUNDS - 1, "hook withdrew");
    }

    function test_deposit_SucceedsAndBlocksReentryFromTheTokenHook() public {
        _arm(abi.encodeCall(IComputeEscrow.withdraw, (HOOK_FUNDS)));
        vm.prank(payer);
        resc.deposit(AMOUNT);
        _assertBlockedOnce(1);
        assertEq(resc.freeBalance(payer), AMOUNT, "deposit credited");
        assertEq(resc.freeBalance(address(rtoken)), HOOK_FUNDS, "hook took nothing");
        _assertHostileAccounting();
    }

    function test_withdraw_SucceedsAndBlocksReentryFromTheTokenHook() public {
        vm.prank(payer);
        resc.deposit(AMOUNT);
        _arm(abi.encodeCall(IComputeEscrow.withdraw, (HOOK_FUNDS)));
        vm.prank(payer);
        resc.withdraw(AMOUNT);
        _assertBlockedOnce(1);
        assertEq(rtoken.balanceOf(payer), AMOUNT, "payer withdrew once");
        _assertHostileAccounting();
    }

    function test_redeem_SucceedsAndBlocksReentryFromTheTokenHook() public {
        vm.prank(payer);
        resc.deposit(AMOUNT);
        vm.prank(payer);
        uint256 id = resc.openChannel(provider, AMOUNT, block.timestamp + 1 days);
        IComputeEscrow.SignedVoucher memory outer = _hostileVoucher(id, 40 ether);
        IComputeEscrow.SignedVoucher memory later = _hostileVoucher(id, 60 ether);
        _arm(abi.encodeCall(IComputeEscrow.redeem, (id, 60 ether, later.r, later.vs)));
        resc.redeem(id, 40 ether, outer.r, outer.vs);
        _assertBlockedOnce(1);
        assertEq(resc.getChannel(id).redeemed, 40 ether, "only the outer voucher counted");
        assertEq(rtoken.balanceOf(provider), _netOf(40 ether, FEE_BPS), "paid once");
        _assertHostileAccounting();
    }

    function test_redeemBatch_SucceedsAndBlocksReentryFromTheTokenHook() public {
        vm.prank(payer);
        resc.deposit(AMOUNT);
        vm.prank(payer);
        uint256 id = resc.openChannel(provider, AMOUNT, block.timestamp + 1 days);
        IComputeEscrow.SignedVoucher[] memory batch = new IComputeEscrow.SignedVoucher[](1);
        batch[0] = _hostileVoucher(id, 40 ether);
        IComputeEscrow.SignedVoucher[] memory laterBatch = new IComputeEscrow.SignedVoucher[](1);
        laterBatch[0] = _hostileVoucher(id, 60 ether);
        _arm(abi.encodeCall(IComputeEscrow.redeemBatch, (laterBatch)));
        resc.redeemBatch(batch);
        _assertBlockedOnce(1);
        assertEq(resc.getChannel(id).redeemed, 40 ether, "only the outer batch counted");
        assertEq(rtoken.balanceOf(provider), _netOf(40 ether, FEE_BPS), "paid once");
        _assertHostileAccounting();
    }

    function test_claimFees_SucceedsAndBlocksReentryFromTheTokenHook() public {
        vm.prank(payer);
        resc.deposit(AMOUNT);
        vm.prank(payer);
        uint256 id = resc.openChannel(provider, AMOUNT, block.timestamp + 1 days);
        IComputeEscrow.SignedVoucher memory whole = _hostileVoucher(id, AMOUNT);
        resc.redeem(id, AMOUNT, whole.r, whole.vs);
        vm.prank(provider);
        resc.closeChannel(id);
        _arm(abi.encodeCall(IComputeEscrow.claimFees, ()));
        resc.claimFees();
        _assertBlockedOnce(1);
        assertEq(rtoken.balanceOf(feeRecipient), _feeOf(AMOUNT, FEE_BPS), "claimed once");
        assertEq(resc.accruedFees(), 0, "nothing left");
        _assertHostileAccounting();
    }

    function test_depositWithPermit_SucceedsAndBlocksReentryFromTheTokenHook() public {
        // ReentrantToken has no permit: the escrow falls back to the allowance.
        _arm(abi.encodeCall(IComputeEscrow.withdraw, (1)));
        vm.prank(payer);
        resc.depositWithPermit(AMOUNT, 0, 0, bytes32(0), bytes32(0));
        _assertBlockedOnce(1);
        assertEq(resc.freeBalance(payer), AMOUNT, "credited through the allowance");
        _assertHostileAccounting();
    }

    // ---- fee-on-transfer ----

    function test_deposit_RevertsWhenTokenTakesAFeeOnTransfer() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        ComputeEscrow fesc = new ComputeEscrow(IERC20(address(fot)), CHALLENGE, FEE_BPS, feeRecipient, owner);
        fot.mint(payer, AMOUNT);
        vm.prank(payer);
        fot.approve(address(fesc), type(uint256).max);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_TransferAmountMismatch.selector, AMOUNT, AMOUNT - AMOUNT / 100));
        fesc.deposit(AMOUNT);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_TransferAmountMismatch.selector, 1, 0));
        fesc.deposit(1);
        assertEq(fesc.freeBalance(payer), 0, "nothing credited");
        assertEq(fot.balanceOf(payer), AMOUNT, "nothing taken");
    }
}
