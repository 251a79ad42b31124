// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title IProviderRegistry
/// @notice Providers register their libp2p peer id and a metadata URI behind a token stake.
/// Clients list only providers that are registered with at least `minStake()` bonded.
interface IProviderRegistry {
    /// @notice A provider's record. `stake` is bonded; `unbonding` waits until `unbondingEndsAt`.
    struct Provider {
        string peerId;
        string metadataURI;
        uint256 stake;
        uint256 unbonding;
        uint64 unbondingEndsAt;
        uint64 registeredAt;
    }

    /// @notice The caller is already registered.
    error ProviderRegistry_AlreadyRegistered(address provider);
    /// @notice The caller is not registered.
    error ProviderRegistry_NotRegistered(address provider);
    /// @notice Another provider holds `peerId`.
    error ProviderRegistry_PeerIdTaken(string peerId, address holder);
    /// @notice The peer id is empty or longer than `MAX_PEER_ID_LENGTH`.
    error ProviderRegistry_InvalidPeerId();
    /// @notice The metadata URI is longer than `MAX_METADATA_URI_LENGTH`.
    error ProviderRegistry_InvalidMetadataURI();
    /// @notice Registration needs at least `minStake` bonded.
    error ProviderRegistry_StakeBelowMinimum(uint256 stake, uint256 minStake);
    /// @notice The amount is zero or above the bonded stake.
    error ProviderRegistry_InvalidAmount(uint256 amount);
    /// @notice Unbonding tokens are locked until `unbondingEndsAt`.
    error ProviderRegistry_StillUnbonding(uint256 unbondingEndsAt);
    /// @notice There is nothing unbonding to withdraw.
    error ProviderRegistry_NothingToWithdraw();

    /// @notice `provider` registered `peerId` with `stake` bonded.
    event ProviderRegistered(address indexed provider, string peerId, string metadataURI, uint256 stake);
    /// @notice `provider` changed its peer id or metadata URI.
    event ProviderUpdated(address indexed provider, string peerId, string metadataURI);
    /// @notice `provider` bonded `amount` more; `stake` is the new bonded total.
    event StakeAdded(address indexed provider, uint256 amount, uint256 stake);
    /// @notice `provider` started unbonding `amount`, withdrawable at `unbondingEndsAt`.
    event UnstakeRequested(address indexed provider, uint256 amount, uint256 unbondingEndsAt);
    /// @notice `provider` withdrew `amount` of unbonded stake.
    event StakeWithdrawn(address indexed provider, uint256 amount);
    /// @notice The owner changed the minimum stake for new registrations and for `isActive`.
    event MinStakeChanged(uint256 minStake);

    /// @notice Registers the caller with `stake` tokens bonded (pulled with `transferFrom`).
    /// @param peerId The caller's libp2p peer id (base58 or CID text), unique across providers.
    /// @param metadataURI Where the provider's description lives; may be empty.
    /// @param stake Tokens to bond; at least `minStake()`.
    function register(string calldata peerId, string calldata metadataURI, uint256 stake) external;

    /// @notice Changes the caller's peer id and metadata URI.
    function update(string calldata peerId, string calldata metadataURI) external;

    /// @notice Bonds `amount` more tokens for the caller.
    function addStake(uint256 amount) external;

    /// @notice Starts unbonding `amount` of the caller's stake. Adding to an unbonding amount
    /// restarts its timer, so no token leaves earlier than `unbondingPeriod()` after its request.
    function requestUnstake(uint256 amount) external;

    /// @notice Sends the caller's unbonded stake back once its unbonding period is over.
    function withdrawStake() external;

    /// @notice Sets the minimum stake (owner only).
    function setMinStake(uint256 minStake_) external;

    /// @notice The token staked.
    function stakeToken() external view returns (address);

    /// @notice The minimum bonded stake of an active provider.
    function minStake() external view returns (uint256);

    /// @notice Seconds between `requestUnstake` and `withdrawStake`.
    function unbondingPeriod() external view returns (uint256);

    /// @notice The record of `provider` (empty when not registered).
    function getProvider(address provider) external view returns (Provider memory);

    /// @notice Whether `provider` is registered with at least `minStake()` bonded.
    function isActive(address provider) external view returns (bool);

    /// @notice The provider that registered `peerId`, or the zero address.
    function providerOfPeer(string calldata peerId) external view returns (address);

    /// @notice How many providers ever registered (for enumeration with `providerAt`).
    function providerCount() external view returns (uint256);

    /// @notice The `index`-th provider ever registered.
    function providerAt(uint256 index) external view returns (address);
}
