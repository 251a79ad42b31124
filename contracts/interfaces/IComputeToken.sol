// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IComputeToken
/// @notice The gridspot compute token (GRID): ERC-20 with ERC-2612 permit and an optional faucet.
interface IComputeToken {
    /// @notice The faucet was not enabled when this token was deployed.
    error ComputeToken_FaucetDisabled();
    /// @notice `account` must wait until `availableAt` before the next drip.
    error ComputeToken_FaucetCooldown(address account, uint256 availableAt);
    /// @notice `account` has received its lifetime faucet cap.
    error ComputeToken_FaucetCapReached(address account, uint256 cap);
    /// @notice The faucet settings are inconsistent (amount above cap, or cap without amount).
    error ComputeToken_InvalidFaucetConfig();

    /// @notice The faucet minted `amount` to `account`.
    event FaucetDrip(address indexed account, uint256 amount);

    /// @notice Mints `faucetAmount()` to the caller, at most once per `faucetCooldown()` and at most
    /// `faucetCap()` in total per address. Reverts when the faucet is disabled.
    function faucet() external;

    /// @notice Tokens minted by one `faucet()` call; zero when the faucet is disabled.
    function faucetAmount() external view returns (uint256);

    /// @notice Seconds an address waits between two drips.
    function faucetCooldown() external view returns (uint256);

    /// @notice Lifetime total an address may receive from the faucet.
    function faucetCap() external view returns (uint256);

    /// @notice What `account` has received from the faucet so far, and when it may next drip.
    function faucetState(address account) external view returns (uint256 received, uint256 availableAt);
}
