// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeEscrow} from "../../contracts/ComputeEscrow.sol";
import {ComputeToken} from "../../contracts/ComputeToken.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {Test} from "./utils/Test.sol";

/// @notice A real GRID token and escrow, funded payers with known keys, and voucher signing that
/// builds the EIP-712 digest independently of the escrow's own `voucherDigest`.
abstract contract EscrowFixture is Test {
    uint256 internal constant START = 1_700_000_000;
    uint256 internal constant CHALLENGE = 1 days;
    uint256 internal constant FEE_BPS = 250;
    uint256 internal constant SUPPLY = 1e30;
    uint256 internal constant PAYER_FUNDS = 1_000_000 ether;
    /// @dev secp256k1 group order: s above n / 2 is the malleable twin of a valid signature.
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256("Voucher(uint256 channelId,uint256 cumulativeAmount)");

    uint256 internal constant PAYER_KEY = 0xA11CE;
    uint256 internal constant PAYER2_KEY = 0xB0B;
    uint256 internal constant PROVIDER_KEY = 0xC0FFEE;

    address internal payer;
    address internal payer2;
    address internal provider;
    address internal provider2 = address(0xB2B2);
    address internal stranger = address(0x5757);
    address internal owner = address(0x0A0A);
    address internal feeRecipient = address(0xFEE5);

    ComputeToken internal token;
    ComputeEscrow internal escrow;

    function setUp() public virtual override {
        vm.warp(START);
        payer = vm.addr(PAYER_KEY);
        payer2 = vm.addr(PAYER2_KEY);
        provider = vm.addr(PROVIDER_KEY);
        token = new ComputeToken(address(this), SUPPLY, 0, 0, 0);
        escrow = _deployEscrow();
        _fundAndApprove(payer, PAYER_FUNDS);
        _fundAndApprove(payer2, PAYER_FUNDS);
    }

    function _deployEscrow() internal returns (ComputeEscrow) {
        return new ComputeEscrow(IERC20(address(token)), CHALLENGE, FEE_BPS, feeRecipient, owner);
    }

    function _fundAndApprove(address account, uint256 amount) internal {
        assertTrue(token.transfer(account, amount), "fund transfer");
        vm.prank(account);
        token.approve(address(escrow), type(uint256).max);
    }

    function _deposit(address account, uint256 amount) internal {
        vm.prank(account);
        escrow.deposit(amount);
    }

    /// @dev Deposits `amount` for `payer_` and opens a channel of `amount` expiring in a week.
    function _open(address payer_, address provider_, uint256 amount) internal returns (uint256 channelId) {
        return _openWithExpiry(payer_, provider_, amount, block.timestamp + 7 days);
    }

    function _openWithExpiry(address payer_, address provider_, uint256 amount, uint256 expiry)
        internal
        returns (uint256 channelId)
    {
        _deposit(payer_, amount);
        vm.prank(payer_);
        channelId = escrow.openChannel(provider_, amount, expiry);
    }

    function _channel(uint256 channelId) internal view returns (IComputeEscrow.Channel memory) {
        return escrow.getChannel(channelId);
    }

    function _domainSeparator(address verifyingContract) internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                DOMAIN_TYPEHASH, keccak256("gridspot"), keccak256("1"), block.chainid, verifyingContract
            )
        );
    }

    /// @dev The voucher digest per DESIGN.md §3, built here rather than asked from the escrow.
    function _digest(address verifyingContract, uint256 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (bytes32)
    {
        bytes32 structHash = keccak256(abi.encode(VOUCHER_TYPEHASH, channelId, cumulativeAmount));
        return keccak256(abi.encodePacked("\x19\x01", _domainSeparator(verifyingContract), structHash));
    }

    /// @dev The payer-side signature in EIP-2098 compact form, the only form `redeem` takes.
    function _sign(uint256 key, uint256 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (bytes32 r, bytes32 vs)
    {
        return _signFor(address(escrow), key, channelId, cumulativeAmount);
    }

    function _signFor(address verifyingContract, uint256 key, uint256 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (bytes32 r, bytes32 vs)
    {
        (uint8 v, bytes32 r_, bytes32 s) = vm.sign(key, _digest(verifyingContract, channelId, cumulativeAmount));
        return (r_, _compact(v, s));
    }

    /// @dev EIP-2098: the parity bit (v − 27) on top of s, which is below 2^255 when s is low.
    function _compact(uint8 v, bytes32 s) internal pure returns (bytes32) {
        return bytes32(uint256(s) | ((uint256(v) - 27) << 255));
    }

    function _redeem(uint256 channelId, uint256 cumulativeAmount) internal {
        (bytes32 r, bytes32 vs) = _sign(PAYER_KEY, channelId, cumulativeAmount);
        escrow.redeem(channelId, cumulativeAmount, r, vs);
    }

    function _voucher(uint256 key, uint256 channelId, uint256 cumulativeAmount)
        internal
        view
        returns (IComputeEscrow.SignedVoucher memory)
    {
        (bytes32 r, bytes32 vs) = _sign(key, channelId, cumulativeAmount);
        return IComputeEscrow.SignedVoucher({channelId: channelId, cumulativeAmount: cumulativeAmount, r: r, vs: vs});
    }

    /// @dev The protocol's share of a cumulative amount, rounded down (computed here, not asked).
    function _feeOf(uint256 cumulative, uint256 bps) internal pure returns (uint256) {
        return (cumulative * bps) / 10_000;
    }

    /// @dev The provider's share of a cumulative amount: what it is paid in all once redeemed.
    function _netOf(uint256 cumulative, uint256 bps) internal pure returns (uint256) {
        return cumulative - _feeOf(cumulative, bps);
    }

    /// @dev The fee a channel holds until it closes (zero once closed: it moved to the accrued fees).
    function _pendingFee(uint256 channelId) internal view returns (uint256) {
        IComputeEscrow.Channel memory c = escrow.getChannel(channelId);
        if (c.status == IComputeEscrow.ChannelStatus.Closed) return 0;
        return _feeOf(c.redeemed, c.feeBps);
    }

    function _err(bytes4 selector, uint256 a) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a);
    }

    function _err(bytes4 selector, uint256 a, uint256 b) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a, b);
    }

    function _err(bytes4 selector, uint256 a, uint256 b, uint256 c) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(selector, a, b, c);
    }

    function _errStatus(uint256 channelId, IComputeEscrow.ChannelStatus status) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IComputeEscrow.Escrow_InvalidChannelStatus.selector, channelId, status);
    }

    function _errUnauthorized(uint256 channelId, address caller) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IComputeEscrow.Escrow_Unauthorized.selector, channelId, caller);
    }

    function _errInsufficient(address account, uint256 available, uint256 requested)
        internal
        pure
        returns (bytes memory)
    {
        return abi.encodeWithSelector(IComputeEscrow.Escrow_InsufficientBalance.selector, account, available, requested);
    }

    /// @dev Escrow's token balance == everything it owes (+ surplus): free balances, unredeemed rest
    /// of every channel, fees still held by channels not closed, and accrued fees.
    function _assertAccounting(uint256 surplus) internal view {
        uint256 owed = escrow.freeBalance(payer) + escrow.freeBalance(payer2) + escrow.freeBalance(provider)
            + escrow.freeBalance(provider2) + escrow.accruedFees();
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            IComputeEscrow.Channel memory c = escrow.getChannel(id);
            owed += uint256(c.amount) - c.redeemed + _pendingFee(id);
        }
        assertEq(token.balanceOf(address(escrow)), owed + surplus, "escrow balance == owed + surplus");
    }
}
