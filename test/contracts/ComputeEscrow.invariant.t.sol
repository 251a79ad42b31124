// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ComputeEscrow} from "../../contracts/ComputeEscrow.sol";
import {ComputeToken} from "../../contracts/ComputeToken.sol";
import {IComputeEscrow} from "../../contracts/interfaces/IComputeEscrow.sol";
import {EscrowHandler} from "./handlers/EscrowHandler.sol";
import {Test} from "./utils/Test.sol";

/// @dev The handler only makes calls that should succeed, so any revert is a finding: the project
/// default (`failOnRevert: false`) would silently drop it.
/// forge-config: default.invariant.fail-on-revert = true
contract ComputeEscrowInvariantTest is Test {
    ComputeToken private token;
    ComputeEscrow private escrow;
    EscrowHandler private handler;
    address private constant OWNER = address(0x0A0A);
    address private constant FEE_RECIPIENT = address(0xFEE5);

    function setUp() public override {
        vm.warp(1_700_000_000);
        token = new ComputeToken(address(this), 1e30, 0, 0, 0);
        escrow = new ComputeEscrow(IERC20(address(token)), 1 days, 250, FEE_RECIPIENT, OWNER);
        handler = new EscrowHandler(token, escrow, OWNER, FEE_RECIPIENT);
        assertTrue(token.transfer(address(handler), 4 * handler.ACTOR_FUNDS() + 1_000 ether), "fund handler");
        handler.init();

        bytes4[] memory selectors = new bytes4[](16);
        selectors[0] = EscrowHandler.deposit.selector;
        selectors[1] = EscrowHandler.withdraw.selector;
        selectors[2] = EscrowHandler.openChannel.selector;
        selectors[3] = EscrowHandler.fundChannel.selector;
        selectors[4] = EscrowHandler.extendChannel.selector;
        selectors[5] = EscrowHandler.redeem.selector;
        selectors[6] = EscrowHandler.redeemStale.selector;
        selectors[7] = EscrowHandler.redeemForged.selector;
        selectors[8] = EscrowHandler.redeemBatch.selector;
        selectors[9] = EscrowHandler.requestClose.selector;
        selectors[10] = EscrowHandler.finalizeClose.selector;
        selectors[11] = EscrowHandler.closeChannel.selector;
        selectors[12] = EscrowHandler.claimFees.selector;
        selectors[13] = EscrowHandler.setFeeBps.selector;
        selectors[14] = EscrowHandler.donate.selector;
        selectors[15] = EscrowHandler.warp.selector;
        _targetContract(address(handler));
        _targetSelectors(address(handler), selectors);
    }

    /// @dev balance == Σ free + Σ (amount − redeemed) + Σ fees held by channels not closed + accrued
    /// fees (+ gifts sent without deposit).
    function invariant_balanceEqualsFreePlusLockedPlusFees() public view {
        (uint256 locked,, uint256 pendingFees) = handler.channelTotals();
        uint256 owed = handler.sumFree() + locked + pendingFees + escrow.accruedFees();
        assertEq(token.balanceOf(address(escrow)), owed + handler.ghostDonated(), "escrow balance");
    }

    function invariant_redeemedOnlyGrowsAndStaysWithinAmount() public view {
        assertFalse(handler.ghostRedeemedShrank(), "a channel's redeemed amount shrank");
        assertFalse(handler.ghostStaleVoucherPaid(), "a stale voucher was accepted");
        assertFalse(handler.ghostForgedVoucherPaid(), "a forged voucher was accepted");
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            IComputeEscrow.Channel memory c = escrow.getChannel(id);
            assertGe(c.redeemed, handler.ghostRedeemed(id), "redeemed below its ghost");
            assertLe(c.redeemed, c.amount, "redeemed above amount");
            assertLe(c.feeBps, escrow.MAX_FEE_BPS(), "fee snapshot above cap");
            if (c.status == IComputeEscrow.ChannelStatus.Closed) {
                assertEq(c.amount, c.redeemed, "closed channel holds nothing");
            }
        }
    }

    function invariant_paidOutNeverExceedsDeposited() public view {
        uint256 paidOut = handler.ghostPaidToProviders() + handler.ghostFeesClaimed();
        assertLe(paidOut, handler.ghostDeposited(), "providers + fee recipient got more than was deposited");
        uint256 out = paidOut + handler.ghostWithdrawn();
        assertLe(out, handler.ghostDeposited(), "more paid out than deposited");
        assertFalse(handler.ghostPaymentMismatch(), "a redemption paid other than net(cum) - net(prev)");
        assertFalse(handler.ghostCloseMismatch(), "a close refunded or accrued the wrong amount");
        // Conservation: what came in and did not leave is exactly what the escrow owes.
        (uint256 locked,, uint256 pendingFees) = handler.channelTotals();
        assertEq(
            handler.ghostDeposited() - out,
            handler.sumFree() + locked + pendingFees + escrow.accruedFees(),
            "deposits - outflows == liabilities"
        );
    }

    /// @dev Every redeemed token went to the provider or is a fee: accrued, claimed, or still held.
    function invariant_redeemedSplitsIntoProviderPayAndFees() public view {
        (, uint256 redeemed, uint256 pendingFees) = handler.channelTotals();
        assertEq(
            handler.ghostPaidToProviders() + escrow.accruedFees() + handler.ghostFeesClaimed() + pendingFees,
            redeemed,
            "provider pay + accrued + claimed + pending fees == redeemed"
        );
        assertEq(
            escrow.accruedFees() + handler.ghostFeesClaimed(), handler.ghostFeesAccrued(), "fees accrued only on close"
        );
    }
}
