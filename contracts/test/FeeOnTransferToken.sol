// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice Test-only token that burns 1 % (at least 1 wei) of every transfer, so the receiver gets
/// less than was sent. The escrow and the registry must refuse it.
contract FeeOnTransferToken is ERC20 {
    constructor() ERC20("Fee on transfer", "FOT") {}

    /// @notice Mints `amount` to `to` (anyone may call: test-only).
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == address(0) || to == address(0) || value == 0) {
            super._update(from, to, value);
            return;
        }
        uint256 fee = value / 100;
        if (fee == 0) fee = 1;
        if (fee > value) fee = value;
        super._update(from, address(0), fee);
        super._update(from, to, value - fee);
    }
}
