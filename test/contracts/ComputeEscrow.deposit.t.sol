// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

contract ComputeEscrowDepositTest is EscrowFixture {
    function test_deposit_RevertsWhenAmountIsZero() public {
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.deposit(0);
    }

    function test_deposit_RevertsWhenAllowanceIsShort() public {
        vm.prank(payer);
        token.approve(address(escrow), 99);
        vm.prank(payer);
        vm.expectRevert(
            abi.encodeWithSelector(IERC20Errors.ERC20InsufficientAllowance.selector, address(escrow), 99, 100)
        );
        escrow.deposit(100);
    }

    function test_deposit_RevertsWhenBalanceIsShort() public {
        vm.prank(stranger);
        token.approve(address(escrow), type(uint256).max);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IERC20Errors.ERC20InsufficientBalance.selector, stranger, 0, 1));
        escrow.deposit(1);
    }

    function test_deposit_SucceedsAndEmitsDeposited() public {
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Deposited(payer, 500 ether);
        _deposit(payer, 500 ether);
        assertEq(escrow.freeBalance(payer), 500 ether, "free balance");
        assertEq(token.balanceOf(address(escrow)), 500 ether, "escrow holds the tokens");
        assertEq(token.balanceOf(payer), PAYER_FUNDS - 500 ether, "payer paid");
    }

    function test_deposit_SucceedsWithOneWei() public {
        _deposit(payer, 1);
        assertEq(escrow.freeBalance(payer), 1, "1 wei credited");
        vm.prank(payer);
        escrow.withdraw(1);
        assertEq(escrow.freeBalance(payer), 0, "1 wei debited");
        assertEq(token.balanceOf(payer), PAYER_FUNDS, "payer whole again");
        _assertAccounting(0);
    }

    function test_deposit_SucceedsRepeatedlyAndAdds() public {
        _deposit(payer, 1);
        _deposit(payer, 2 ether);
        _deposit(payer2, 3);
        assertEq(escrow.freeBalance(payer), 2 ether + 1, "payer adds up");
        assertEq(escrow.freeBalance(payer2), 3, "payer2 separate");
        _assertAccounting(0);
    }

    function test_withdraw_RevertsWhenAmountIsZero() public {
        _deposit(payer, 10);
        vm.prank(payer);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.withdraw(0);
    }

    function test_withdraw_RevertsWhenAboveFreeBalance() public {
        _deposit(payer, 10);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, 10, 11));
        escrow.withdraw(11);
    }

    function test_withdraw_RevertsWhenBalanceIsLockedInChannel() public {
        _open(payer, provider, 10);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, 0, 1));
        escrow.withdraw(1);
    }

    function test_withdraw_RevertsWhenCallerIsNotTheDepositor() public {
        _deposit(payer, 10);
        vm.prank(stranger);
        vm.expectRevert(_errInsufficient(stranger, 0, 10));
        escrow.withdraw(10);
    }

    function test_withdraw_SucceedsAndEmitsWithdrawn() public {
        _deposit(payer, 10 ether);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Withdrawn(payer, 4 ether);
        vm.prank(payer);
        escrow.withdraw(4 ether);
        assertEq(escrow.freeBalance(payer), 6 ether, "rest stays");
        assertEq(token.balanceOf(payer), PAYER_FUNDS - 6 ether, "tokens back");
        _assertAccounting(0);
    }

    function test_withdraw_SucceedsForTheWholeBalance() public {
        _deposit(payer, 10 ether);
        vm.prank(payer);
        escrow.withdraw(10 ether);
        assertEq(escrow.freeBalance(payer), 0, "empty");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow empty");
    }

    function test_deposit_SucceedsWhenTokensWereSentDirectly() public {
        // A plain transfer is a gift nobody can claim: it credits no one and blocks nothing.
        assertTrue(token.transfer(address(escrow), 7 ether), "gift");
        _deposit(payer, 3 ether);
        assertEq(escrow.freeBalance(payer), 3 ether, "deposit is exact");
        vm.prank(payer);
        escrow.withdraw(3 ether);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, 0, 1));
        escrow.withdraw(1);
        assertEq(token.balanceOf(address(escrow)), 7 ether, "gift stays as surplus");
        _assertAccounting(7 ether);
    }

    function testFuzz_depositWithdraw_RoundTrips(uint256 depositAmount, uint256 withdrawAmount) public {
        depositAmount = bound(depositAmount, 1, PAYER_FUNDS);
        withdrawAmount = bound(withdrawAmount, 1, depositAmount);
        _deposit(payer, depositAmount);
        vm.prank(payer);
        escrow.withdraw(withdrawAmount);
        assertEq(escrow.freeBalance(payer), depositAmount - withdrawAmount, "free balance");
        assertEq(token.balanceOf(payer), PAYER_FUNDS - depositAmount + withdrawAmount, "payer tokens");
        _assertAccounting(0);
    }

    function testFuzz_withdraw_RevertsAboveFreeBalance(uint256 depositAmount, uint256 excess) public {
        depositAmount = bound(depositAmount, 1, PAYER_FUNDS);
        excess = bound(excess, 1, type(uint256).max - depositAmount);
        _deposit(payer, depositAmount);
        vm.prank(payer);
        vm.expectRevert(_errInsufficient(payer, depositAmount, depositAmount + excess));
        escrow.withdraw(depositAmount + excess);
    }
}
