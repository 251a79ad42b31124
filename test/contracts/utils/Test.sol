// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Cheats} from "./Cheats.sol";

/// @notice A small stand-in for forge-std's Test (forge-std is not on npm): assertions that revert
/// with a message, and the invariant target lists the runner reads from the test contract.
abstract contract Test is Cheats {
    /// @dev Layout the runner expects from `targetSelectors()`.
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetedContracts;
    FuzzSelector[] private _targetedSelectors;

    function setUp() public virtual {}

    /// @notice Contracts the invariant fuzzer calls (read by the runner).
    function targetContracts() public view returns (address[] memory) {
        return _targetedContracts;
    }

    /// @notice Functions the invariant fuzzer calls (read by the runner).
    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetedSelectors;
    }

    function _targetContract(address target) internal {
        _targetedContracts.push(target);
    }

    function _targetSelectors(address target, bytes4[] memory selectors) internal {
        _targetedSelectors.push(FuzzSelector({addr: target, selectors: selectors}));
    }

    function assertTrue(bool condition, string memory message) internal pure {
        if (!condition) revert Test_AssertionFailed(message);
    }

    function assertFalse(bool condition, string memory message) internal pure {
        if (condition) revert Test_AssertionFailed(message);
    }

    function assertEq(uint256 a, uint256 b, string memory message) internal pure {
        if (a != b) revert Test_AssertionFailed(string.concat(message, ": ", _str(a), " != ", _str(b)));
    }

    function assertEq(address a, address b, string memory message) internal pure {
        if (a != b) revert Test_AssertionFailed(string.concat(message, ": addresses differ"));
    }

    function assertEq(bytes32 a, bytes32 b, string memory message) internal pure {
        if (a != b) revert Test_AssertionFailed(string.concat(message, ": bytes32 values differ"));
    }

    function assertEq(bytes memory a, bytes memory b, string memory message) internal pure {
        if (keccak256(a) != keccak256(b)) revert Test_AssertionFailed(string.concat(message, ": bytes differ"));
    }

    function assertEq(string memory a, string memory b, string memory message) internal pure {
        if (keccak256(bytes(a)) != keccak256(bytes(b))) {
            revert Test_AssertionFailed(string.concat(message, ": '", a, "' != '", b, "'"));
        }
    }

    function assertLe(uint256 a, uint256 b, string memory message) internal pure {
        if (a > b) revert Test_AssertionFailed(string.concat(message, ": ", _str(a), " > ", _str(b)));
    }

    function assertGe(uint256 a, uint256 b, string memory message) internal pure {
        if (a < b) revert Test_AssertionFailed(string.concat(message, ": ", _str(a), " < ", _str(b)));
    }

    function _str(uint256 value) private pure returns (string memory) {
        if (value == 0) return "0";
        uint256 digits;
        for (uint256 v = value; v != 0; v /= 10) ++digits;
        bytes memory buf = new bytes(digits);
        for (uint256 v = value; v != 0; v /= 10) buf[--digits] = bytes1(uint8(48 + (v % 10)));
        return string(buf);
    }
}
