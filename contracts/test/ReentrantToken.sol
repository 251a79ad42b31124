// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ReentrantToken
/// @notice Test-only token with a transfer hook (like ERC-777 callbacks): after every balance change
/// it calls a configured target with configured calldata, and records how that call ended instead of
/// failing the transfer, so tests can check that the target refused to be re-entered.
contract ReentrantToken is ERC20 {
    address private _hookTarget;
    bytes private _hookData;
    bool private _inHook;
    uint256 private _hookCalls;
    bool private _lastHookSucceeded;
    bytes private _lastHookResult;

    constructor() ERC20("Reentrant", "REE") {}

    /// @notice Mints `amount` to `to` (anyone may call: test-only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Calls `target` with `data` after each later transfer; a zero target turns it off.
    function setHook(address target, bytes calldata data) external {
        _hookTarget = target;
        _hookData = data;
    }

    /// @notice Lets this contract act as an account of `target` (approve, deposit, ...).
    function execute(address target, bytes calldata data) external returns (bytes memory) {
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        return result;
    }

    /// @notice How often the hook ran, and how its last call ended (revert data or return data).
    function hookResult() external view returns (uint256 calls, bool lastSucceeded, bytes memory lastResult) {
        return (_hookCalls, _lastHookSucceeded, _lastHookResult);
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        address target = _hookTarget;
        if (target == address(0) || _inHook) return;
        _inHook = true;
        // The hook exists to attack `target`; its outcome is recorded, not enforced.
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory result) = target.call(_hookData);
        _hookCalls += 1;
        _lastHookSucceeded = ok;
        _lastHookResult = result;
        _inHook = false;
    }
}
