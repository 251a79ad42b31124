// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Vm} from "./Vm.sol";

/// @notice Cheatcode access and input bounding, shared by tests and invariant handlers.
abstract contract Cheats {
    error Test_AssertionFailed(string message);

    // forge-std's name for it, which every Foundry-style test expects.
    // solhint-disable-next-line const-name-snakecase
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    /// @dev Maps `x` into [min, max] without discarding fuzz runs (the idea of forge-std's `bound`).
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        if (min > max) revert Test_AssertionFailed("bound: min > max");
        if (min == 0 && max == type(uint256).max) return x;
        return min + (x % (max - min + 1));
    }
}
