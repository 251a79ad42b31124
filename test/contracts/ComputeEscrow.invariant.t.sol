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

        bytes4[] memory selectors = new bytes4[](15);
        selectors[0] = EscrowHandler.deposit.selector;
        selectors[1] = EscrowHandler.withdraw.selector;
        selectors[2] = EscrowHandler.openChannel.selector;
        selectors[3] = EscrowHandler.fundChannel.selector;
        selectors[4] = EscrowHandler.extendChannel.selector;
        selectors[5] = EscrowHandler.redeem.selector;
        selectors[6] = EscrowHandler.redeemStale.selector;
        selectors[7] = EscrowHandler.redeemBatch.selector;
        selectors[8] = EscrowHandler.requestClose.selector;
        selectors[9] = EscrowHandler.finalizeClose.selector;
        selectors[10] = EscrowHandler.closeChannel.selector;
        selectors[11] = EscrowHandler.claimFees.selector;
        selectors[12] = EscrowHandler.setFeeBps.selector;
        selectors[13] = EscrowHandler.donate.selector;
        selectors[14] = EscrowHandler.warp.selector;
        _targetContract(address(handler));
        _targetSelectors(address(handler), selectors);
    }

    function _locked() private view returns (uint256 total) {
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            IComputeEscrow.Channel memory c = escrow.getChannel(id);
            total += uint256(c.amount) - c.redeemed;
        }
    }

    /// @dev balance == Σ free + Σ (amount − redeemed) + accrued fees (+ gifts sent without deposit).
    function invariant_balanceEqualsFreePlusLockedPlusFees() public view {
        uint256 owed = handler.sumFree() + _locked() + escrow.accruedFees();
        assertEq(token.balanceOf(address(escrow)), owed + handler.ghostDonated(), "escrow balance");
    }

    function invariant_redeemedOnlyGrowsAndStaysWithinAmount() public view {
        assertFalse(handler.ghostRedeemedShrank(), "a channel's redeemed amount shrank");
        assertFalse(handler.ghostStaleVoucherPaid(), "a stale voucher was accepted");
        uint256 last = escrow.lastChannelId();
        for (uint256 id = 1; id <= last; ++id) {
            IComputeEscrow.Channel memory c = escrow.getChannel(id);
            assertGe(c.redeemed, handler.ghostRedeemed(id), "redeemed below its ghost");
            assertLe(c.redeemed, c.amount, "redeemed above amount");
            assertLe(c.feeBps, escrow.MAX_FEE_BPS(), "fee snapshot above cap");
            if (c.status == IComputeEscrow.ChannelStatus.Closed) assertEq(c.amount, c.redeemed, "closed channel holds nothing");
        }
    }

    function invariant_paidOutNeverExceedsDeposited() public view {
        uint256 out = handler.ghostPaidToProviders() + handler.ghostFeesClaimed() + handler.ghostWithdrawn();
        assertLe(out, handler.ghostDeposited(), "more paid out than deposited");
        assertFalse(handler.ghostPaymentMismatch(), "provider + fee != voucher difference");
        // Conservation: what came in and did not leave is exactly what the escrow owes.
        assertEq(
            handler.ghostDeposited() - out,
            handler.sumFree() + _locked() + escrow.accruedFees(),
            "deposits - outflows == liabilities"
        );
    }
}
