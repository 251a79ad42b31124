import type { JobEndReason, JobEndStatus } from "../../marketplace/messages/job.ts";
import type { JobExit } from "../run/types.ts";

/**
 * How a job ended, for both sides: a limit the runtime enforced (`timeout`, `oom`, `pids`,
 * `disk-quota`) ends it `failed` with that code and the runtime's words; the voucher watchdog's kill
 * ends it `suspended`: `suspended-timeout` when it waited the agreement's `maxSuspendedS` for its
 * payer in vain, `unpaid` otherwise; a cancel `cancelled`; otherwise its exit code decides.
 */
export function endOfJob(
  exit: JobExit,
  context: {
    payerClosed?: string | undefined;
    watchdogKill: boolean;
    /** Why the watchdog killed it, when it was for being suspended past `maxSuspendedS`. */
    suspendedTimeout?: string | undefined;
    refusedReason?: string | undefined;
    cancelReason?: string | undefined;
    maxDurationS: number;
  },
): { status: JobEndStatus; reason: string; reasonCode: JobEndReason } {
  if (context.payerClosed !== undefined) {
    return { status: "failed", reason: context.payerClosed, reasonCode: "payer-closed" };
  }
  if (context.watchdogKill && context.suspendedTimeout !== undefined) {
    return { status: "suspended", reason: context.suspendedTimeout, reasonCode: "suspended-timeout" };
  }
  if (context.watchdogKill) {
    return {
      status: "suspended",
      reason: context.refusedReason ?? "no voucher from the submitter within the grace period",
      reasonCode: "unpaid",
    };
  }
  switch (exit.reason) {
    case "cancelled":
      return {
        status: "cancelled",
        reason: context.cancelReason ?? exit.detail ?? "cancelled",
        reasonCode: "cancelled",
      };
    case "timeout":
      return {
        status: "failed",
        reason: exit.detail ?? `ran past its maximum duration of ${context.maxDurationS}s`,
        reasonCode: "timeout",
      };
    case "oom":
    case "pids":
    case "disk-quota":
    case "suspended-timeout":
      return { status: "failed", reason: exit.detail ?? exit.reason, reasonCode: exit.reason };
    default:
      return {
        status: exit.exitCode === 0 ? "completed" : "failed",
        reason: `exit code ${exit.exitCode ?? "none"}${exit.signal ? ` (signal ${exit.signal})` : ""}`,
        reasonCode: "exit",
      };
  }
}
