import { describe, expect, it } from "vitest";
import type { ChannelState } from "../../../marketplace/chain/actions/readChannel.ts";
import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import { channelMinimum } from "../../../marketplace/receipt/channelMinimum.ts";
import { checkJobStart } from "../../../node/job/checkJobStart.ts";
import {
  agreement,
  GRID,
  HOUR_MS,
  jobStart,
  PROVIDER,
  SUBMITTER,
} from "../../marketplace/messages/fixtures.ts";

const NOW_S = 1_700_000_000;
// One GPU at a spot maximum of 3.6 GRID/h, 5 s receipts, a minimum charge of 0.01 GRID.
const terms: Agreement = {
  ...agreement,
  gpus: 1,
  cpuCores: 1,
  memMiB: 1,
  rates: [{ meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS }],
  maxRates: [{ meter: "gpu_ms", price: (36n * GRID) / 10n, per: HOUR_MS }],
  pricing: "spot",
  minimumCharge: GRID / 100n,
  receiptIntervalMs: 5_000,
};
// 0.01 GRID + 10 s at 3.6 GRID/h (0.01 GRID): the minimum is exactly 0.02 GRID.
const MINIMUM = GRID / 50n;

const start = (amount: bigint) =>
  checkJobStart({
    start: { ...jobStart, agreement: terms, channelBase: 100n },
    agreement: terms,
    channel: {
      payer: SUBMITTER,
      provider: PROVIDER,
      status: "open",
      expiry: NOW_S + 86_400,
      deadline: NOW_S + 86_400,
      amount,
      redeemed: 0n,
      feeBps: 0,
    } satisfies ChannelState,
    provider: PROVIDER,
    signedFloor: 100n,
    nowS: NOW_S,
    maxInputBytes: 10_000,
  });

describe("the channel minimum at job start", () => {
  it("is the minimum charge plus two receipt intervals of the allocation at the agreed maximum rates", () => {
    expect(channelMinimum(terms)).toBe(MINIMUM);
    // A fixed agreement's maxima are its rates.
    expect(channelMinimum({ ...terms, maxRates: terms.rates, minimumCharge: undefined })).toBe(
      (10_000n * 2n * GRID) / HOUR_MS,
    );
  });

  it("refuses, with the reason, a channel holding less above the base (the 1-wei channel), and takes one holding it", () => {
    expect(start(101n)).toEqual({
      code: "channel-minimum",
      message: `the channel holds 1 above the base; a job needs at least ${MINIMUM} (the minimum charge plus two receipt intervals at the agreed maximum rates)`,
    });
    expect(start(100n + MINIMUM - 1n)?.code).toBe("channel-minimum");
    expect(start(100n + MINIMUM)).toBeUndefined();
  });
});
