// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {IComputeToken} from "./interfaces/IComputeToken.sol";

/// @title ComputeToken
/// @notice GRID, the compute token gridspot jobs are paid in. 18 decimals, ERC-2612 permit.
/// @dev The faucet is fixed at deploy time: a zero `faucetAmount_` disables it for good, which is
/// how a mainnet deployment is made. Local chains and testnets enable it.
contract ComputeToken is ERC20, ERC20Permit, IComputeToken {
    struct FaucetAccount {
        uint128 received;
        uint128 lastDripAt;
    }

    uint256 private immutable _faucetAmount;
    uint256 private immutable _faucetCooldown;
    uint256 private immutable _faucetCap;
    mapping(address account => FaucetAccount) private _faucetAccounts;

    /// @param initialHolder Receives `initialSupply`.
    /// @param initialSupply Minted once, at deployment.
    /// @param faucetAmount_ Tokens per drip; zero disables the faucet.
    /// @param faucetCooldown_ Seconds between two drips to the same address.
    /// @param faucetCap_ Lifetime total one address may take from the faucet.
    constructor(
        address initialHolder,
        uint256 initialSupply,
        uint256 faucetAmount_,
        uint256 faucetCooldown_,
        uint256 faucetCap_
    ) ERC20("gridspot compute", "GRID") ERC20Permit("gridspot compute") {
        if (faucetAmount_ > faucetCap_ || (faucetAmount_ == 0 && faucetCap_ != 0)) {
            revert ComputeToken_InvalidFaucetConfig();
        }
        _faucetAmount = faucetAmount_;
        _faucetCooldown = faucetCooldown_;
        _faucetCap = faucetCap_;
        if (initialSupply != 0) _mint(initialHolder, initialSupply);
    }

    /// @inheritdoc IComputeToken
    function faucet() external {
        // Checks
        if (_faucetAmount == 0) revert ComputeToken_FaucetDisabled();
        FaucetAccount memory acct = _faucetAccounts[msg.sender];
        if (acct.received != 0) {
            uint256 availableAt = uint256(acct.lastDripAt) + _faucetCooldown;
            if (block.timestamp < availableAt) revert ComputeToken_FaucetCooldown(msg.sender, availableAt);
        }
        uint256 received = uint256(acct.received) + _faucetAmount;
        if (received > _faucetCap) revert ComputeToken_FaucetCapReached(msg.sender, _faucetCap);
        // Effects (the cap bounds `received`, and timestamps fit 128 bits for any real chain)
        _faucetAccounts[msg.sender] = FaucetAccount(uint128(received), uint128(block.timestamp));
        _mint(msg.sender, _faucetAmount);
        emit FaucetDrip(msg.sender, _faucetAmount);
    }

    /// @inheritdoc IComputeToken
    function faucetAmount() external view returns (uint256) {
        return _faucetAmount;
    }

    /// @inheritdoc IComputeToken
    function faucetCooldown() external view returns (uint256) {
        return _faucetCooldown;
    }

    /// @inheritdoc IComputeToken
    function faucetCap() external view returns (uint256) {
        return _faucetCap;
    }

    /// @inheritdoc IComputeToken
    function faucetState(address account) external view returns (uint256 received, uint256 availableAt) {
        FaucetAccount memory acct = _faucetAccounts[account];
        received = acct.received;
        availableAt = acct.received == 0 ? 0 : uint256(acct.lastDripAt) + _faucetCooldown;
    }
}
