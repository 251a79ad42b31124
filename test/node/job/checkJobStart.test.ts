import { describe, expect, it } from "vitest";
import type { JobStart } from "../../../marketplace/messages/job.ts";
import { MAX_JOB_INPUT_BYTES } from "../../../marketplace/p2p/constants.ts";
import { checkJobStart } from "../../../node/job/checkJobStart.ts";
import type { ChannelState } from "../../../node/job/readChannel.ts";
import { agreement, jobStart, PROVIDER, SUBMITTER } from "../../marketplace/messages/fixtures.ts";

const NOW_S = 1_700_000_000;
// The job may run 3600 s, then 4 receipt intervals of 5 s and a minute of slack: 3680 s.
const NEEDED_UNTIL = NOW_S + 3600 + 20 + 60;

const channel: ChannelState = {
  payer: SUBMITTER,
  provider: PROVIDER,
  status: "open",
  expiry: NEEDED_UNTIL,
  deadline: NEEDED_UNTIL,
  amount: 1000n,
  redeemed: 0n,
  feeBps: 0,
};

function check(
  overrides: { start?: Partial<JobStart>; channel?: Partial<ChannelState>; signedFloor?: bigint } = {},
) {
  return checkJobStart({
    start: { ...jobStart, ...overrides.start },
    agreement,
    channel: { ...channel, ...overrides.channel },
    provider: PROVIDER,
    signedFloor: overrides.signedFloor ?? 100n,
    nowS: NOW_S,
  });
}

describe("checkJobStart", () => {
  it("lets a job start on an open, funded channel from the submitter to us that outlives the job", () => {
    expect(check()).toBeUndefined();
  });

  it.each(["none", "closing", "closed"] as const)("refuses a channel that is %s", (status) => {
    expect(check({ channel: { status } })).toEqual({
      code: "channel-not-open",
      message: `channel 7 is ${status}`,
    });
  });

  it("refuses a channel paid by someone other than the submitter", () => {
    expect(check({ channel: { payer: PROVIDER } })?.code).toBe("channel-payer");
  });

  it("refuses a channel that pays another provider", () => {
    expect(check({ channel: { provider: SUBMITTER } })?.code).toBe("channel-provider");
  });

  it("refuses a base below what we already hold a voucher for (it would bill the same tokens twice)", () => {
    expect(check({ signedFloor: 101n })).toEqual({
      code: "channel-base",
      message: "base 100 is below 101, already signed or redeemed on this channel",
    });
    expect(check({ signedFloor: 100n })).toBeUndefined();
  });

  it("refuses a channel with nothing left above the base", () => {
    expect(check({ channel: { amount: 100n } })?.code).toBe("channel-empty");
    expect(check({ channel: { amount: 99n } })?.code).toBe("channel-empty");
    expect(check({ channel: { amount: 101n } })).toBeUndefined();
  });

  it("refuses a channel whose redemption window ends before the job could", () => {
    expect(check({ channel: { deadline: NEEDED_UNTIL - 1 } })?.code).toBe("channel-expiry");
    expect(check({ channel: { deadline: NEEDED_UNTIL } })).toBeUndefined();
  });

  it("refuses inputs above the limit, counted as decoded bytes", () => {
    // base64: 4 characters carry 3 bytes.
    const chars = (bytes: number) => Math.ceil((bytes * 4) / 3);
    const inputsOf = (bytes: number) => [{ path: "data.bin", data: "A".repeat(chars(bytes)) }];
    expect(check({ start: { inputs: inputsOf(MAX_JOB_INPUT_BYTES) } })).toBeUndefined();
    expect(check({ start: { inputs: inputsOf(MAX_JOB_INPUT_BYTES + 3) } })?.code).toBe("inputs-too-large");
    const half = inputsOf(MAX_JOB_INPUT_BYTES / 2 + 3);
    expect(check({ start: { inputs: [...half, ...half] } })?.code).toBe("inputs-too-large");
  });
});
