// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeToken} from "../../contracts/ComputeToken.sol";
import {IProviderRegistry} from "../../contracts/interfaces/IProviderRegistry.sol";
import {ProviderRegistry} from "../../contracts/ProviderRegistry.sol";
import {RegistryHandler} from "./handlers/RegistryHandler.sol";
import {Test} from "./utils/Test.sol";

/// @dev The handler only makes calls that should succeed, so any revert is a finding: the project
/// default (`failOnRevert: false`) would silently drop it.
/// forge-config: default.invariant.fail-on-revert = true
contract ProviderRegistryInvariantTest is Test {
    ComputeToken private token;
    ProviderRegistry private registry;
    RegistryHandler private handler;

    function setUp() public override {
        vm.warp(1_700_000_000);
        token = new ComputeToken(address(this), 1e30, 0, 0, 0);
        registry = new ProviderRegistry(IERC20(address(token)), 100 ether, 1 days, address(0x0A0A));
        handler = new RegistryHandler(token, registry, address(0x0A0A));
        assertTrue(token.transfer(address(handler), 4 * handler.ACTOR_FUNDS() + 1_000 ether), "fund handler");
        handler.init();

        bytes4[] memory selectors = new bytes4[](8);
        selectors[0] = RegistryHandler.register.selector;
        selectors[1] = RegistryHandler.update.selector;
        selectors[2] = RegistryHandler.addStake.selector;
        selectors[3] = RegistryHandler.requestUnstake.selector;
        selectors[4] = RegistryHandler.withdrawStake.selector;
        selectors[5] = RegistryHandler.setMinStake.selector;
        selectors[6] = RegistryHandler.donate.selector;
        selectors[7] = RegistryHandler.warp.selector;
        _targetContract(address(handler));
        _targetSelectors(address(handler), selectors);
    }

    /// @dev balance == Σ stake + Σ unbonding (+ gifts sent without staking).
    function invariant_balanceEqualsStakePlusUnbonding() public view {
        assertEq(
            token.balanceOf(address(registry)), handler.sumHeld() + handler.ghostDonated(), "registry balance"
        );
        assertEq(handler.ghostStakedIn() - handler.ghostWithdrawn(), handler.sumHeld(), "in - out == held");
        assertFalse(handler.ghostEarlyWithdrawal(), "stake left before its unbonding ended");
    }

    function invariant_peerIdsAreUniqueAndConsistent() public view {
        uint256 count = registry.providerCount();
        for (uint256 i; i < count; ++i) {
            address provider = registry.providerAt(i);
            IProviderRegistry.Provider memory p = registry.getProvider(provider);
            assertTrue(p.registeredAt != 0, "enumerated provider is registered");
            assertEq(registry.providerOfPeer(p.peerId), provider, "peer id maps back to its provider");
        }
        for (uint256 j; j < handler.PEER_IDS(); ++j) {
            address holder = registry.providerOfPeer(handler.peerId(j));
            if (holder != address(0)) assertEq(registry.getProvider(holder).peerId, handler.peerId(j), "holder's id");
        }
    }
}
