// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowFixture} from "./EscrowFixture.sol";

contract ComputeEscrowPermitTest is EscrowFixture {
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    uint256 private constant HOLDER_KEY = 0xD00D;

    address private holder;

    function setUp() public override {
        super.setUp();
        holder = vm.addr(HOLDER_KEY);
        // No approval: the holder authorises only through permits.
        assertTrue(token.transfer(holder, 100 ether), "fund holder");
    }

    function _permit(uint256 value, uint256 deadline) private view returns (uint8 v, bytes32 r, bytes32 s) {
        bytes32 structHash =
            keccak256(abi.encode(PERMIT_TYPEHASH, holder, address(escrow), value, token.nonces(holder), deadline));
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
        return vm.sign(HOLDER_KEY, digest);
    }

    function test_depositWithPermit_SucceedsWithValidPermit() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        vm.expectEmit(true, true, true, true, address(escrow));
        emit IComputeEscrow.Deposited(holder, 40 ether);
        vm.prank(holder);
        escrow.depositWithPermit(40 ether, deadline, v, r, s);
        assertEq(escrow.freeBalance(holder), 40 ether, "credited");
        assertEq(token.balanceOf(holder), 60 ether, "debited");
        assertEq(token.nonces(holder), 1, "permit used");
        assertEq(token.allowance(holder, address(escrow)), 0, "allowance spent");
    }

    function test_depositWithPermit_SucceedsWhenPermitWasFrontRun() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        // Someone copies the permit from the mempool and submits it first.
        vm.prank(stranger);
        token.permit(holder, address(escrow), 40 ether, deadline, v, r, s);
        vm.prank(holder);
        escrow.depositWithPermit(40 ether, deadline, v, r, s);
        assertEq(escrow.freeBalance(holder), 40 ether, "credited despite the front-run");
        assertEq(token.balanceOf(holder), 60 ether, "debited once");
    }

    function test_depositWithPermit_RevertsWhenPermitIsUsedAndAllowanceIsGone() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        vm.prank(stranger);
        token.permit(holder, address(escrow), 40 ether, deadline, v, r, s);
        vm.prank(holder);
        token.approve(address(escrow), 0);
        vm.prank(holder);
        vm.expectRevert(_err(IComputeEscrow.Escrow_PermitFailed.selector, 40 ether));
        escrow.depositWithPermit(40 ether, deadline, v, r, s);
    }

    function test_depositWithPermit_RevertsWhenSignatureIsInvalidAndNoAllowance() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        vm.prank(holder);
        vm.expectRevert(_err(IComputeEscrow.Escrow_PermitFailed.selector, 41 ether));
        escrow.depositWithPermit(41 ether, deadline, v, r, s);
    }

    function test_depositWithPermit_RevertsWhenPermitExpiredAndNoAllowance() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        vm.warp(deadline + 1);
        vm.prank(holder);
        vm.expectRevert(_err(IComputeEscrow.Escrow_PermitFailed.selector, 40 ether));
        escrow.depositWithPermit(40 ether, deadline, v, r, s);
    }

    function test_depositWithPermit_RevertsWhenAllowanceIsShortOfAmount() public {
        vm.prank(holder);
        token.approve(address(escrow), 39 ether);
        vm.prank(holder);
        vm.expectRevert(_err(IComputeEscrow.Escrow_PermitFailed.selector, 40 ether));
        escrow.depositWithPermit(40 ether, 0, 0, bytes32(0), bytes32(0));
    }

    function test_depositWithPermit_SucceedsWithGarbagePermitWhenAllowanceCovers() public {
        vm.prank(holder);
        token.approve(address(escrow), 40 ether);
        vm.prank(holder);
        escrow.depositWithPermit(40 ether, 0, 0, bytes32(0), bytes32(0));
        assertEq(escrow.freeBalance(holder), 40 ether, "allowance was enough");
    }

    function test_depositWithPermit_RevertsWhenSomeoneElseSubmitsTheHoldersPermit() public {
        // The permit names the holder, but the escrow permits for msg.sender: a stranger gains nothing.
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(40 ether, deadline);
        vm.prank(stranger);
        vm.expectRevert(_err(IComputeEscrow.Escrow_PermitFailed.selector, 40 ether));
        escrow.depositWithPermit(40 ether, deadline, v, r, s);
        assertEq(token.balanceOf(holder), 100 ether, "holder untouched");
    }

    function test_depositWithPermit_RevertsWhenAmountIsZero() public {
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(0, deadline);
        vm.prank(holder);
        vm.expectRevert(_err(IComputeEscrow.Escrow_InvalidAmount.selector, 0));
        escrow.depositWithPermit(0, deadline, v, r, s);
    }

    function testFuzz_depositWithPermit_CreditsExactly(uint256 amount) public {
        amount = bound(amount, 1, 100 ether);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = _permit(amount, deadline);
        vm.prank(holder);
        escrow.depositWithPermit(amount, deadline, v, r, s);
        assertEq(escrow.freeBalance(holder), amount, "credited");
        assertEq(token.balanceOf(address(escrow)), amount, "escrow holds it");
    }
}
