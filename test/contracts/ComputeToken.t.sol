// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ComputeToken} from "../../contracts/ComputeToken.sol";
import {IComputeToken} from "../../contracts/interfaces/IComputeToken.sol";
import {Test} from "./utils/Test.sol";

contract ComputeTokenTest is Test {
    uint256 private constant SUPPLY = 1_000_000 ether;
    uint256 private constant DRIP = 100 ether;
    uint256 private constant COOLDOWN = 1 days;
    uint256 private constant CAP = 250 ether;
    uint256 private constant OWNER_KEY = 0xA11CE;
    bytes32 private constant PERMIT_TYPEHASH =
        keccak256("Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");

    ComputeToken private token;
    ComputeToken private faucetToken;
    address private holder = address(0x4011);
    address private alice = address(0xA1);
    address private bob = address(0xB0);
    address private spender = address(0x5BE);

    function setUp() public override {
        vm.warp(1_700_000_000);
        token = new ComputeToken(holder, SUPPLY, 0, 0, 0);
        faucetToken = new ComputeToken(holder, 0, DRIP, COOLDOWN, CAP);
    }

    // ---- metadata and supply ----

    function test_constructor_SucceedsWithMetadataAndInitialSupply() public view {
        assertEq(token.name(), "gridspot compute", "name");
        assertEq(token.symbol(), "GRID", "symbol");
        assertEq(token.decimals(), 18, "decimals");
        assertEq(token.totalSupply(), SUPPLY, "supply");
        assertEq(token.balanceOf(holder), SUPPLY, "holder");
        assertEq(token.faucetAmount(), 0, "faucet off");
        assertEq(faucetToken.totalSupply(), 0, "no initial supply");
        assertEq(faucetToken.faucetAmount(), DRIP, "drip");
        assertEq(faucetToken.faucetCooldown(), COOLDOWN, "cooldown");
        assertEq(faucetToken.faucetCap(), CAP, "cap");
    }

    function test_constructor_RevertsWhenFaucetAmountIsAboveCap() public {
        vm.expectRevert(IComputeToken.ComputeToken_InvalidFaucetConfig.selector);
        new ComputeToken(holder, 0, CAP + 1, COOLDOWN, CAP);
    }

    function test_constructor_RevertsWhenCapIsSetWithoutAmount() public {
        vm.expectRevert(IComputeToken.ComputeToken_InvalidFaucetConfig.selector);
        new ComputeToken(holder, 0, 0, COOLDOWN, CAP);
    }

    function test_constructor_RevertsWhenAmountIsSetWithoutCap() public {
        vm.expectRevert(IComputeToken.ComputeToken_InvalidFaucetConfig.selector);
        new ComputeToken(holder, 0, DRIP, COOLDOWN, 0);
    }

    function testFuzz_constructor_AcceptsExactlyConsistentFaucetConfigs(uint256 amount, uint256 cap) public {
        amount = bound(amount, 0, 1e30);
        cap = bound(cap, 0, 1e30);
        bool valid = amount <= cap && (amount != 0 || cap == 0);
        if (!valid) vm.expectRevert(IComputeToken.ComputeToken_InvalidFaucetConfig.selector);
        ComputeToken t = new ComputeToken(holder, 0, amount, COOLDOWN, cap);
        if (valid) assertEq(t.faucetCap(), cap, "deployed");
    }

    // ---- faucet ----

    function test_faucet_RevertsWhenDisabled() public {
        vm.prank(alice);
        vm.expectRevert(IComputeToken.ComputeToken_FaucetDisabled.selector);
        token.faucet();
    }

    function test_faucet_SucceedsAndEmitsFaucetDrip() public {
        vm.expectEmit(true, true, true, true, address(faucetToken));
        emit IComputeToken.FaucetDrip(alice, DRIP);
        vm.prank(alice);
        faucetToken.faucet();
        assertEq(faucetToken.balanceOf(alice), DRIP, "dripped");
        (uint256 received, uint256 availableAt) = faucetToken.faucetState(alice);
        assertEq(received, DRIP, "received");
        assertEq(availableAt, block.timestamp + COOLDOWN, "next drip");
    }

    function test_faucetState_ReturnsZeroBeforeTheFirstDrip() public view {
        (uint256 received, uint256 availableAt) = faucetToken.faucetState(alice);
        assertEq(received, 0, "received");
        assertEq(availableAt, 0, "available now");
    }

    function test_faucet_RevertsDuringCooldownAndSucceedsWhenItEnds() public {
        vm.prank(alice);
        faucetToken.faucet();
        uint256 availableAt = block.timestamp + COOLDOWN;
        vm.warp(availableAt - 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IComputeToken.ComputeToken_FaucetCooldown.selector, alice, availableAt)
        );
        faucetToken.faucet();
        vm.warp(availableAt);
        vm.prank(alice);
        faucetToken.faucet();
        assertEq(faucetToken.balanceOf(alice), 2 * DRIP, "second drip");
    }

    function test_faucet_RevertsWhenCapIsReached() public {
        vm.startPrank(alice);
        faucetToken.faucet();
        vm.warp(block.timestamp + COOLDOWN);
        faucetToken.faucet();
        vm.warp(block.timestamp + COOLDOWN);
        // 200 received; one more drip would make 300 > 250.
        vm.expectRevert(abi.encodeWithSelector(IComputeToken.ComputeToken_FaucetCapReached.selector, alice, CAP));
        faucetToken.faucet();
        vm.warp(block.timestamp + 365 days);
        vm.expectRevert(abi.encodeWithSelector(IComputeToken.ComputeToken_FaucetCapReached.selector, alice, CAP));
        faucetToken.faucet();
        vm.stopPrank();
        assertEq(faucetToken.balanceOf(alice), 2 * DRIP, "capped");
    }

    function test_faucet_SucceedsPerAddressIndependently() public {
        vm.prank(alice);
        faucetToken.faucet();
        vm.prank(bob);
        faucetToken.faucet();
        assertEq(faucetToken.balanceOf(bob), DRIP, "bob's own cooldown and cap");
        assertEq(faucetToken.totalSupply(), 2 * DRIP, "supply grew by the drips");
    }

    function test_faucet_SucceedsBackToBackWithZeroCooldownUpToTheCap() public {
        ComputeToken t = new ComputeToken(holder, 0, 1 ether, 0, 3 ether);
        vm.startPrank(alice);
        t.faucet();
        t.faucet();
        t.faucet();
        vm.expectRevert(abi.encodeWithSelector(IComputeToken.ComputeToken_FaucetCapReached.selector, alice, 3 ether));
        t.faucet();
        vm.stopPrank();
    }

    // ---- permit ----

    function _permitDigest(address owner, uint256 value, uint256 nonce, uint256 deadline)
        private
        view
        returns (bytes32)
    {
        bytes32 domain = keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("gridspot compute"), keccak256("1"), block.chainid, address(token))
        );
        bytes32 structHash = keccak256(abi.encode(PERMIT_TYPEHASH, owner, spender, value, nonce, deadline));
        return keccak256(abi.encodePacked("\x19\x01", domain, structHash));
    }

    function test_permit_SucceedsAndSetsTheAllowance() public {
        address owner = vm.addr(OWNER_KEY);
        uint256 deadline = block.timestamp + 1 hours;
        assertEq(token.DOMAIN_SEPARATOR(), keccak256(
            abi.encode(DOMAIN_TYPEHASH, keccak256("gridspot compute"), keccak256("1"), block.chainid, address(token))
        ), "domain separator");
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, _permitDigest(owner, 5 ether, 0, deadline));
        vm.prank(bob);
        token.permit(owner, spender, 5 ether, deadline, v, r, s);
        assertEq(token.allowance(owner, spender), 5 ether, "allowance");
        assertEq(token.nonces(owner), 1, "nonce used");
    }

    function test_permit_RevertsWhenReplayed() public {
        address owner = vm.addr(OWNER_KEY);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, _permitDigest(owner, 5 ether, 0, deadline));
        token.permit(owner, spender, 5 ether, deadline, v, r, s);
        // With the nonce used up, the same signature recovers some unrelated address.
        address recovered = ecrecover(_permitDigest(owner, 5 ether, 1, deadline), v, r, s);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, recovered, owner));
        token.permit(owner, spender, 5 ether, deadline, v, r, s);
    }

    function test_permit_RevertsWhenExpired() public {
        address owner = vm.addr(OWNER_KEY);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(OWNER_KEY, _permitDigest(owner, 5 ether, 0, deadline));
        vm.warp(deadline + 1);
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612ExpiredSignature.selector, deadline));
        token.permit(owner, spender, 5 ether, deadline, v, r, s);
    }

    function test_permit_RevertsWhenSignedBySomeoneElse() public {
        address owner = vm.addr(OWNER_KEY);
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(0xBAD, _permitDigest(owner, 5 ether, 0, deadline));
        vm.expectRevert(abi.encodeWithSelector(ERC20Permit.ERC2612InvalidSigner.selector, vm.addr(0xBAD), owner));
        token.permit(owner, spender, 5 ether, deadline, v, r, s);
    }
}
