// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ComputeToken} from "../../../contracts/ComputeToken.sol";
import {IProviderRegistry} from "../../../contracts/interfaces/IProviderRegistry.sol";
import {ProviderRegistry} from "../../../contracts/ProviderRegistry.sol";
import {Cheats} from "../utils/Cheats.sol";

/// @notice Drives a real registry through random, mostly valid sequences for the invariant fuzzer.
contract RegistryHandler is Cheats {
    uint256 public constant ACTORS = 4;
    uint256 public constant ACTOR_FUNDS = 1_000_000 ether;
    uint256 public constant PEER_IDS = 6;

    ComputeToken public immutable token;
    ProviderRegistry public immutable registry;
    address public immutable owner;

    address[ACTORS] private _actors;

    uint256 public ghostStakedIn;
    uint256 public ghostWithdrawn;
    uint256 public ghostDonated;
    bool public ghostEarlyWithdrawal;

    /// @dev The caller must hand this contract `ACTORS * ACTOR_FUNDS + 1_000 ether` tokens first.
    constructor(ComputeToken token_, ProviderRegistry registry_, address owner_) {
        token = token_;
        registry = registry_;
        owner = owner_;
        for (uint256 i; i < ACTORS; ++i) {
            _actors[i] = address(uint160(0xA0 + i));
        }
    }

    /// @notice Hands out the actors' funds and approvals; called once by the test's setUp.
    function init() external {
        for (uint256 i; i < ACTORS; ++i) {
            _must(token.transfer(_actors[i], ACTOR_FUNDS));
            vm.prank(_actors[i]);
            token.approve(address(registry), type(uint256).max);
        }
    }

    function actor(uint256 index) external view returns (address) {
        return _actors[index];
    }

    /// @notice One of a small set of peer ids, so that collisions happen.
    function peerId(uint256 index) public pure returns (string memory) {
        return string.concat("12D3KooW-peer-", string(abi.encodePacked(bytes1(uint8(65 + (index % PEER_IDS))))));
    }

    // ---- actions ----

    function register(uint256 actorSeed, uint256 peerSeed, uint256 stake) external {
        address a = _actors[actorSeed % ACTORS];
        if (registry.getProvider(a).registeredAt != 0) return;
        string memory peer = peerId(peerSeed);
        if (registry.providerOfPeer(peer) != address(0)) return;
        uint256 held = token.balanceOf(a);
        uint256 min = registry.minStake();
        if (held < min) return;
        stake = bound(stake, min, held);
        vm.prank(a);
        registry.register(peer, "ipfs://meta", stake);
        ghostStakedIn += stake;
    }

    function update(uint256 actorSeed, uint256 peerSeed) external {
        address a = _actors[actorSeed % ACTORS];
        if (registry.getProvider(a).registeredAt == 0) return;
        string memory peer = peerId(peerSeed);
        address holder = registry.providerOfPeer(peer);
        if (holder != address(0) && holder != a) return;
        vm.prank(a);
        registry.update(peer, "ipfs://meta-2");
    }

    function addStake(uint256 actorSeed, uint256 amount) external {
        address a = _actors[actorSeed % ACTORS];
        uint256 held = token.balanceOf(a);
        if (registry.getProvider(a).registeredAt == 0 || held == 0) return;
        amount = bound(amount, 1, held);
        vm.prank(a);
        registry.addStake(amount);
        ghostStakedIn += amount;
    }

    function requestUnstake(uint256 actorSeed, uint256 amount) external {
        address a = _actors[actorSeed % ACTORS];
        uint256 stake = registry.getProvider(a).stake;
        if (stake == 0) return;
        amount = bound(amount, 1, stake);
        vm.prank(a);
        registry.requestUnstake(amount);
    }

    function withdrawStake(uint256 actorSeed) external {
        // The first actor from the seed on that has something unbonding, so that withdrawals happen.
        address a;
        IProviderRegistry.Provider memory p;
        for (uint256 i; i < ACTORS && p.unbonding == 0; ++i) {
            a = _actors[((actorSeed % ACTORS) + i) % ACTORS];
            p = registry.getProvider(a);
        }
        if (p.unbonding == 0) return;
        uint256 before = token.balanceOf(a);
        vm.prank(a);
        // The time check is deliberately left to the registry: an early withdrawal must revert.
        try registry.withdrawStake() {
            if (block.timestamp < p.unbondingEndsAt) ghostEarlyWithdrawal = true;
            ghostWithdrawn += token.balanceOf(a) - before;
        } catch {}
    }

    function setMinStake(uint256 minStake) external {
        vm.prank(owner);
        registry.setMinStake(bound(minStake, 0, 1_000 ether));
    }

    function donate(uint256 amount) external {
        amount = bound(amount, 1, 1 ether);
        ghostDonated += amount;
        _must(token.transfer(address(registry), amount));
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 days));
    }

    /// @notice Σ (stake + unbonding) over all actors (nobody else registers).
    function sumHeld() external view returns (uint256 total) {
        for (uint256 i; i < ACTORS; ++i) {
            IProviderRegistry.Provider memory p = registry.getProvider(_actors[i]);
            total += p.stake + p.unbonding;
        }
    }

    function _must(bool ok) private pure {
        if (!ok) revert Test_AssertionFailed("token transfer failed");
    }
}
