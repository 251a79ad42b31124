import type { Agreement } from "../messages/agreement.ts";
import { estimateCost } from "../order/estimateCost.ts";

/** Receipt intervals of work a channel must cover before a job starts on it. */
export const START_INTERVALS = 2n;

/**
 * The least a channel must hold above its base for a job to start on it (DESIGN §11): the agreement's
 * minimum charge plus two receipt intervals of the whole allocation at the agreed maximum rates
 * (`maxRates`: the spot ceiling, the rates themselves in a fixed agreement), priced like a bid's cost
 * (`estimateCost`, floored per meter). Counted meters are left out: the provider cannot know the
 * order's ceilings. With it, a payer who walks away leaves the provider paid for the interval it
 * was working in and the one whose voucher it was waiting for.
 */
export function channelMinimum(
  agreement: Pick<
    Agreement,
    "maxRates" | "minimumCharge" | "receiptIntervalMs" | "gpus" | "cpuCores" | "memMiB" | "maxDurationS"
  >,
): bigint {
  const work = estimateCost(
    agreement.maxRates,
    {
      gpus: agreement.gpus,
      cpuCores: agreement.cpuCores,
      memMiB: agreement.memMiB,
      maxDurationS: agreement.maxDurationS,
    },
    START_INTERVALS * BigInt(agreement.receiptIntervalMs),
  );
  return (agreement.minimumCharge ?? 0n) + work;
}
