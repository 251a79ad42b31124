// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IProviderRegistry} from "./interfaces/IProviderRegistry.sol";

/// @title ProviderRegistry
/// @notice Staked registry of gridspot providers, keyed by Ethereum address, unique by libp2p peer id.
/// @dev A peer id proves nothing by itself: clients also check, over libp2p, that the peer signs
/// with the registered address (market messages bind the peer id to the address's signature).
contract ProviderRegistry is IProviderRegistry, Ownable2Step, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Longest accepted peer id, in bytes (an Ed25519 peer id is 52 characters).
    uint256 public constant MAX_PEER_ID_LENGTH = 128;
    /// @notice Longest accepted metadata URI, in bytes.
    uint256 public constant MAX_METADATA_URI_LENGTH = 512;

    IERC20 private immutable _token;
    uint256 private immutable _unbondingPeriod;
    uint256 private _minStake;
    mapping(address provider => Provider) private _providers;
    mapping(bytes32 peerIdHash => address provider) private _peerOwners;
    address[] private _providerList;

    /// @param token_ The staked token.
    /// @param minStake_ Minimum bonded stake.
    /// @param unbondingPeriod_ Seconds between an unstake request and the withdrawal.
    /// @param owner_ May change the minimum stake.
    constructor(IERC20 token_, uint256 minStake_, uint256 unbondingPeriod_, address owner_) Ownable(owner_) {
        _token = token_;
        _minStake = minStake_;
        _unbondingPeriod = unbondingPeriod_;
    }

    /// @inheritdoc IProviderRegistry
    function register(string calldata peerId, string calldata metadataURI, uint256 stake) external nonReentrant {
        // Checks
        Provider storage p = _providers[msg.sender];
        if (p.registeredAt != 0) revert ProviderRegistry_AlreadyRegistered(msg.sender);
        if (stake < _minStake) revert ProviderRegistry_StakeBelowMinimum(stake, _minStake);
        _checkMetadata(metadataURI);
        // Effects
        _claimPeerId(peerId);
        p.peerId = peerId;
        p.metadataURI = metadataURI;
        p.stake = stake;
        p.registeredAt = uint64(block.timestamp);
        _providerList.push(msg.sender);
        emit ProviderRegistered(msg.sender, peerId, metadataURI, stake);
        // Interactions
        _pullExact(stake);
    }

    /// @inheritdoc IProviderRegistry
    function update(string calldata peerId, string calldata metadataURI) external {
        Provider storage p = _registered(msg.sender);
        _checkMetadata(metadataURI);
        if (keccak256(bytes(peerId)) != keccak256(bytes(p.peerId))) {
            delete _peerOwners[keccak256(bytes(p.peerId))];
            _claimPeerId(peerId);
            p.peerId = peerId;
        }
        p.metadataURI = metadataURI;
        emit ProviderUpdated(msg.sender, peerId, metadataURI);
    }

    /// @inheritdoc IProviderRegistry
    function addStake(uint256 amount) external nonReentrant {
        // Checks
        Provider storage p = _registered(msg.sender);
        if (amount == 0) revert ProviderRegistry_InvalidAmount(amount);
        // Effects
        p.stake += amount;
        emit StakeAdded(msg.sender, amount, p.stake);
        // Interactions
        _pullExact(amount);
    }

    /// @inheritdoc IProviderRegistry
    function requestUnstake(uint256 amount) external {
        Provider storage p = _registered(msg.sender);
        if (amount == 0 || amount > p.stake) revert ProviderRegistry_InvalidAmount(amount);
        p.stake -= amount;
        p.unbonding += amount;
        p.unbondingEndsAt = uint64(block.timestamp + _unbondingPeriod);
        emit UnstakeRequested(msg.sender, amount, p.unbondingEndsAt);
    }

    /// @inheritdoc IProviderRegistry
    function withdrawStake() external nonReentrant {
        // Checks
        Provider storage p = _registered(msg.sender);
        uint256 amount = p.unbonding;
        if (amount == 0) revert ProviderRegistry_NothingToWithdraw();
        if (block.timestamp < p.unbondingEndsAt) revert ProviderRegistry_StillUnbonding(p.unbondingEndsAt);
        // Effects
        p.unbonding = 0;
        p.unbondingEndsAt = 0;
        emit StakeWithdrawn(msg.sender, amount);
        // Interactions
        _token.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IProviderRegistry
    function setMinStake(uint256 minStake_) external onlyOwner {
        _minStake = minStake_;
        emit MinStakeChanged(minStake_);
    }

    /// @inheritdoc IProviderRegistry
    function stakeToken() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IProviderRegistry
    function minStake() external view returns (uint256) {
        return _minStake;
    }

    /// @inheritdoc IProviderRegistry
    function unbondingPeriod() external view returns (uint256) {
        return _unbondingPeriod;
    }

    /// @inheritdoc IProviderRegistry
    function getProvider(address provider) external view returns (Provider memory) {
        return _providers[provider];
    }

    /// @inheritdoc IProviderRegistry
    function isActive(address provider) external view returns (bool) {
        Provider storage p = _providers[provider];
        return p.registeredAt != 0 && p.stake >= _minStake && p.stake != 0;
    }

    /// @inheritdoc IProviderRegistry
    function providerOfPeer(string calldata peerId) external view returns (address) {
        return _peerOwners[keccak256(bytes(peerId))];
    }

    /// @inheritdoc IProviderRegistry
    function providerCount() external view returns (uint256) {
        return _providerList.length;
    }

    /// @inheritdoc IProviderRegistry
    function providerAt(uint256 index) external view returns (address) {
        return _providerList[index];
    }

    function _registered(address provider) private view returns (Provider storage p) {
        p = _providers[provider];
        if (p.registeredAt == 0) revert ProviderRegistry_NotRegistered(provider);
    }

    function _claimPeerId(string calldata peerId) private {
        uint256 len = bytes(peerId).length;
        if (len == 0 || len > MAX_PEER_ID_LENGTH) revert ProviderRegistry_InvalidPeerId();
        bytes32 key = keccak256(bytes(peerId));
        address holder = _peerOwners[key];
        if (holder != address(0)) revert ProviderRegistry_PeerIdTaken(peerId, holder);
        _peerOwners[key] = msg.sender;
    }

    function _checkMetadata(string calldata metadataURI) private pure {
        if (bytes(metadataURI).length > MAX_METADATA_URI_LENGTH) revert ProviderRegistry_InvalidMetadataURI();
    }

    /// @dev Pulls `amount` and rejects tokens that deliver less than asked (fee-on-transfer).
    function _pullExact(uint256 amount) private {
        uint256 before = _token.balanceOf(address(this));
        _token.safeTransferFrom(msg.sender, address(this), amount);
        if (_token.balanceOf(address(this)) - before != amount) revert ProviderRegistry_InvalidAmount(amount);
    }
}
