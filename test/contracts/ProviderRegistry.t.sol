// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ComputeToken} from "../../contracts/ComputeToken.sol";
import {IProviderRegistry} from "../../contracts/interfaces/IProviderRegistry.sol";
import {ProviderRegistry} from "../../contracts/ProviderRegistry.sol";
import {FeeOnTransferToken} from "../../contracts/test/FeeOnTransferToken.sol";
import {ReentrantToken} from "../../contracts/test/ReentrantToken.sol";
import {Test} from "./utils/Test.sol";

contract ProviderRegistryTest is Test {
    uint256 private constant MIN_STAKE = 100 ether;
    uint256 private constant UNBONDING = 7 days;
    uint256 private constant FUNDS = 10_000 ether;
    string private constant PEER = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf";
    string private constant PEER2 = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo";
    string private constant URI = "ipfs://bafy-provider-metadata";

    ComputeToken private token;
    ProviderRegistry private registry;
    address private owner = address(0x0A0A);
    address private alice = address(0xA11CE);
    address private bob = address(0xB0B);
    address private stranger = address(0x5757);

    function setUp() public override {
        vm.warp(1_700_000_000);
        token = new ComputeToken(address(this), 1e30, 0, 0, 0);
        registry = new ProviderRegistry(IERC20(address(token)), MIN_STAKE, UNBONDING, owner);
        _fund(alice);
        _fund(bob);
    }

    function _fund(address account) private {
        assertTrue(token.transfer(account, FUNDS), "fund");
        vm.prank(account);
        token.approve(address(registry), type(uint256).max);
    }

    function _register(address account, string memory peerId, uint256 stake) private {
        vm.prank(account);
        registry.register(peerId, URI, stake);
    }

    function _repeat(bytes1 char, uint256 length) private pure returns (string memory) {
        bytes memory b = new bytes(length);
        for (uint256 i; i < length; ++i) b[i] = char;
        return string(b);
    }

    // ---- constructor and views ----

    function test_constructor_SucceedsAndSetsParameters() public view {
        assertEq(registry.stakeToken(), address(token), "stakeToken");
        assertEq(registry.minStake(), MIN_STAKE, "minStake");
        assertEq(registry.unbondingPeriod(), UNBONDING, "unbondingPeriod");
        assertEq(registry.owner(), owner, "owner");
        assertEq(registry.providerCount(), 0, "no providers");
        assertEq(registry.MAX_PEER_ID_LENGTH(), 128, "peer id limit");
        assertEq(registry.MAX_METADATA_URI_LENGTH(), 512, "uri limit");
    }

    function test_constructor_RevertsWhenOwnerIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        new ProviderRegistry(IERC20(address(token)), MIN_STAKE, UNBONDING, address(0));
    }

    function test_providerAt_RevertsWhenIndexIsOutOfRange() public {
        vm.expectRevert(abi.encodeWithSignature("Panic(uint256)", 0x32));
        registry.providerAt(0);
    }

    // ---- register ----

    function test_register_SucceedsAndEmitsProviderRegistered() public {
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.ProviderRegistered(alice, PEER, URI, MIN_STAKE);
        _register(alice, PEER, MIN_STAKE);
        IProviderRegistry.Provider memory p = registry.getProvider(alice);
        assertEq(p.peerId, PEER, "peerId");
        assertEq(p.metadataURI, URI, "uri");
        assertEq(p.stake, MIN_STAKE, "stake");
        assertEq(p.unbonding, 0, "unbonding");
        assertEq(p.registeredAt, block.timestamp, "registeredAt");
        assertEq(registry.providerOfPeer(PEER), alice, "peer owner");
        assertEq(registry.providerCount(), 1, "count");
        assertEq(registry.providerAt(0), alice, "enumerated");
        assertTrue(registry.isActive(alice), "active");
        assertEq(token.balanceOf(address(registry)), MIN_STAKE, "stake pulled");
    }

    function test_register_SucceedsWithEmptyMetadataAndLimitLengths() public {
        vm.prank(alice);
        registry.register(_repeat("p", 128), "", MIN_STAKE);
        vm.prank(bob);
        registry.register(PEER2, _repeat("u", 512), MIN_STAKE);
        assertEq(registry.providerCount(), 2, "both registered");
    }

    function test_register_RevertsWhenAlreadyRegistered() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_AlreadyRegistered.selector, alice));
        registry.register(PEER2, URI, MIN_STAKE);
    }

    function test_register_RevertsWhenStakeIsBelowMinimum() public {
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(
                IProviderRegistry.ProviderRegistry_StakeBelowMinimum.selector, MIN_STAKE - 1, MIN_STAKE
            )
        );
        registry.register(PEER, URI, MIN_STAKE - 1);
    }

    function test_register_RevertsWhenPeerIdIsEmpty() public {
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_InvalidPeerId.selector);
        registry.register("", URI, MIN_STAKE);
    }

    function test_register_RevertsWhenPeerIdIsTooLong() public {
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_InvalidPeerId.selector);
        registry.register(_repeat("p", 129), URI, MIN_STAKE);
    }

    function test_register_RevertsWhenMetadataURIIsTooLong() public {
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_InvalidMetadataURI.selector);
        registry.register(PEER, _repeat("u", 513), MIN_STAKE);
    }

    function test_register_RevertsWhenPeerIdIsTaken() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(bob);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_PeerIdTaken.selector, PEER, alice));
        registry.register(PEER, URI, MIN_STAKE);
    }

    function test_register_RevertsWhenTokenTakesAFeeOnTransfer() public {
        FeeOnTransferToken fot = new FeeOnTransferToken();
        ProviderRegistry r = new ProviderRegistry(IERC20(address(fot)), MIN_STAKE, UNBONDING, owner);
        fot.mint(alice, FUNDS);
        vm.prank(alice);
        fot.approve(address(r), type(uint256).max);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_InvalidAmount.selector, MIN_STAKE));
        r.register(PEER, URI, MIN_STAKE);
    }

    // ---- update ----

    function test_update_RevertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_NotRegistered.selector, alice));
        registry.update(PEER, URI);
    }

    function test_update_RevertsWhenMetadataURIIsTooLong() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_InvalidMetadataURI.selector);
        registry.update(PEER, _repeat("u", 513));
    }

    function test_update_RevertsWhenNewPeerIdIsTaken() public {
        _register(alice, PEER, MIN_STAKE);
        _register(bob, PEER2, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_PeerIdTaken.selector, PEER2, bob));
        registry.update(PEER2, URI);
        assertEq(registry.providerOfPeer(PEER), alice, "alice keeps her peer id");
    }

    function test_update_RevertsWhenNewPeerIdIsEmpty() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_InvalidPeerId.selector);
        registry.update("", URI);
    }

    function test_update_SucceedsMovingThePeerIdAndFreeingTheOldOne() public {
        _register(alice, PEER, MIN_STAKE);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.ProviderUpdated(alice, PEER2, "ipfs://new");
        vm.prank(alice);
        registry.update(PEER2, "ipfs://new");
        assertEq(registry.providerOfPeer(PEER2), alice, "new peer id owned");
        assertEq(registry.providerOfPeer(PEER), address(0), "old peer id free");
        assertEq(registry.getProvider(alice).metadataURI, "ipfs://new", "uri changed");
        _register(bob, PEER, MIN_STAKE);
        assertEq(registry.providerOfPeer(PEER), bob, "old peer id reusable");
    }

    function test_update_SucceedsKeepingThePeerIdWhenUnchanged() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        registry.update(PEER, "ipfs://other");
        assertEq(registry.providerOfPeer(PEER), alice, "still owned");
        assertEq(registry.getProvider(alice).metadataURI, "ipfs://other", "uri changed");
    }

    // ---- addStake ----

    function test_addStake_RevertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_NotRegistered.selector, alice));
        registry.addStake(1);
    }

    function test_addStake_RevertsWhenAmountIsZero() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_InvalidAmount.selector, 0));
        registry.addStake(0);
    }

    function test_addStake_SucceedsAndEmitsStakeAdded() public {
        _register(alice, PEER, MIN_STAKE);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.StakeAdded(alice, 1, MIN_STAKE + 1);
        vm.prank(alice);
        registry.addStake(1);
        assertEq(registry.getProvider(alice).stake, MIN_STAKE + 1, "stake grew");
        assertEq(token.balanceOf(address(registry)), MIN_STAKE + 1, "tokens pulled");
    }

    // ---- requestUnstake ----

    function test_requestUnstake_RevertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_NotRegistered.selector, alice));
        registry.requestUnstake(1);
    }

    function test_requestUnstake_RevertsWhenAmountIsZeroOrAboveStake() public {
        _register(alice, PEER, MIN_STAKE);
        vm.startPrank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_InvalidAmount.selector, 0));
        registry.requestUnstake(0);
        vm.expectRevert(
            abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_InvalidAmount.selector, MIN_STAKE + 1)
        );
        registry.requestUnstake(MIN_STAKE + 1);
        vm.stopPrank();
    }

    function test_requestUnstake_SucceedsAndEmitsUnstakeRequested() public {
        _register(alice, PEER, MIN_STAKE);
        uint256 endsAt = block.timestamp + UNBONDING;
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.UnstakeRequested(alice, 40 ether, endsAt);
        vm.prank(alice);
        registry.requestUnstake(40 ether);
        IProviderRegistry.Provider memory p = registry.getProvider(alice);
        assertEq(p.stake, MIN_STAKE - 40 ether, "bonded");
        assertEq(p.unbonding, 40 ether, "unbonding");
        assertEq(p.unbondingEndsAt, endsAt, "ends at");
        assertFalse(registry.isActive(alice), "below minimum: inactive");
    }

    function test_requestUnstake_SucceedsRestartingTheTimerForTheWholeAmount() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        registry.requestUnstake(10 ether);
        vm.warp(block.timestamp + UNBONDING - 1);
        vm.prank(alice);
        registry.requestUnstake(10 ether);
        IProviderRegistry.Provider memory p = registry.getProvider(alice);
        assertEq(p.unbonding, 20 ether, "amounts add up");
        assertEq(p.unbondingEndsAt, block.timestamp + UNBONDING, "timer restarted");
        vm.warp(block.timestamp + 1);
        vm.prank(alice);
        vm.expectRevert(
            abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_StillUnbonding.selector, p.unbondingEndsAt)
        );
        registry.withdrawStake();
    }

    // ---- withdrawStake ----

    function test_withdrawStake_RevertsWhenNotRegistered() public {
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_NotRegistered.selector, alice));
        registry.withdrawStake();
    }

    function test_withdrawStake_RevertsWhenNothingIsUnbonding() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_NothingToWithdraw.selector);
        registry.withdrawStake();
    }

    function test_withdrawStake_RevertsOneSecondBeforeUnbondingEnds() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        registry.requestUnstake(MIN_STAKE);
        uint256 endsAt = block.timestamp + UNBONDING;
        vm.warp(endsAt - 1);
        vm.prank(alice);
        vm.expectRevert(abi.encodeWithSelector(IProviderRegistry.ProviderRegistry_StillUnbonding.selector, endsAt));
        registry.withdrawStake();
    }

    function test_withdrawStake_SucceedsWhenUnbondingEndsAndEmitsStakeWithdrawn() public {
        _register(alice, PEER, MIN_STAKE);
        vm.prank(alice);
        registry.requestUnstake(MIN_STAKE);
        vm.warp(block.timestamp + UNBONDING);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.StakeWithdrawn(alice, MIN_STAKE);
        vm.prank(alice);
        registry.withdrawStake();
        IProviderRegistry.Provider memory p = registry.getProvider(alice);
        assertEq(p.unbonding, 0, "unbonding cleared");
        assertEq(p.unbondingEndsAt, 0, "timer cleared");
        assertEq(token.balanceOf(alice), FUNDS, "stake back");
        assertFalse(registry.isActive(alice), "no stake: inactive");
        vm.prank(alice);
        vm.expectRevert(IProviderRegistry.ProviderRegistry_NothingToWithdraw.selector);
        registry.withdrawStake();
    }

    function test_withdrawStake_SucceedsAndBlocksReentryFromTheTokenHook() public {
        ReentrantToken rtoken = new ReentrantToken();
        ProviderRegistry r = new ProviderRegistry(IERC20(address(rtoken)), 0, UNBONDING, owner);
        // The token contract registers itself, so a re-entrant withdrawStake would be its own.
        rtoken.mint(address(rtoken), MIN_STAKE);
        rtoken.execute(address(rtoken), abi.encodeCall(IERC20.approve, (address(r), type(uint256).max)));
        rtoken.execute(address(r), abi.encodeCall(IProviderRegistry.register, (PEER, URI, MIN_STAKE)));
        rtoken.execute(address(r), abi.encodeCall(IProviderRegistry.requestUnstake, (MIN_STAKE)));
        vm.warp(block.timestamp + UNBONDING);
        rtoken.setHook(address(r), abi.encodeCall(IProviderRegistry.withdrawStake, ()));
        rtoken.execute(address(r), abi.encodeCall(IProviderRegistry.withdrawStake, ()));
        (uint256 calls, bool ok, bytes memory result) = rtoken.hookResult();
        assertEq(calls, 1, "hook ran");
        assertFalse(ok, "re-entry failed");
        assertEq(
            result, abi.encodeWithSelector(ReentrancyGuardTransient.ReentrancyGuardReentrantCall.selector), "guard"
        );
        assertEq(rtoken.balanceOf(address(rtoken)), MIN_STAKE, "withdrawn once");
        assertEq(rtoken.balanceOf(address(r)), 0, "registry empty");
    }

    // ---- setMinStake and isActive ----

    function test_setMinStake_RevertsWhenCallerIsNotTheOwner() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        registry.setMinStake(1);
    }

    function test_setMinStake_SucceedsAndEmitsMinStakeChanged() public {
        _register(alice, PEER, MIN_STAKE);
        vm.expectEmit(true, true, true, true, address(registry));
        emit IProviderRegistry.MinStakeChanged(MIN_STAKE + 1);
        vm.prank(owner);
        registry.setMinStake(MIN_STAKE + 1);
        assertEq(registry.minStake(), MIN_STAKE + 1, "set");
        assertFalse(registry.isActive(alice), "existing provider now below minimum");
        vm.prank(alice);
        registry.addStake(1);
        assertTrue(registry.isActive(alice), "active again");
    }

    function test_isActive_ReturnsFalseForUnknownAndZeroStake() public {
        assertFalse(registry.isActive(alice), "unknown");
        vm.prank(owner);
        registry.setMinStake(0);
        _register(alice, PEER, 0);
        assertFalse(registry.isActive(alice), "zero stake is never active");
        vm.prank(alice);
        registry.addStake(1);
        assertTrue(registry.isActive(alice), "any stake with a zero minimum");
    }

    function test_transferOwnership_SucceedsOnlyAfterAcceptance() public {
        vm.prank(owner);
        registry.transferOwnership(stranger);
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        registry.setMinStake(1);
        vm.prank(stranger);
        registry.acceptOwnership();
        vm.prank(stranger);
        registry.setMinStake(1);
        assertEq(registry.minStake(), 1, "new owner set it");
    }

    function testFuzz_stake_RoundTripsThroughUnbonding(uint256 stake, uint256 unstake) public {
        stake = bound(stake, MIN_STAKE, FUNDS);
        unstake = bound(unstake, 1, stake);
        _register(alice, PEER, stake);
        vm.prank(alice);
        registry.requestUnstake(unstake);
        assertEq(token.balanceOf(address(registry)), stake, "all held while unbonding");
        vm.warp(block.timestamp + UNBONDING);
        vm.prank(alice);
        registry.withdrawStake();
        assertEq(token.balanceOf(alice), FUNDS - stake + unstake, "unstaked part back");
        assertEq(registry.getProvider(alice).stake, stake - unstake, "rest bonded");
        assertEq(token.balanceOf(address(registry)), stake - unstake, "registry holds the rest");
    }
}
