import { describe, expect, it } from "vitest";
import type { ChannelState } from "../../../marketplace/chain/actions/readChannel.ts";
import type { JobStart } from "../../../marketplace/messages/job.ts";
import { checkJobStart } from "../../../node/job/checkJobStart.ts";
import { agreement, jobStart, PROVIDER, SUBMITTER } from "../../marketplace/messages/fixtures.ts";

const NOW_S = 1_700_000_000;
// The job may run 3600 s, then 4 receipt intervals of 5 s and a minute of slack: 3680 s.
const NEEDED_UNTIL = NOW_S + 3600 + 20 + 60;
const MAX_INPUT_BYTES = 1000;

const channel: ChannelState = {
  payer: SUBMITTER,
  provider: PROVIDER,
  status: "open",
  expiry: NEEDED_UNTIL,
  deadline: NEEDED_UNTIL,
  // Enough for the minimum at start (channelMinimum: two receipt intervals at the agreed maxima).
  amount: 10n ** 20n,
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
    maxInputBytes: MAX_INPUT_BYTES,
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
    expect(check({ channel: { amount: 100n + 10n ** 19n } })).toBeUndefined();
  });

  it("refuses a channel whose redemption window ends before the job could", () => {
    expect(check({ channel: { deadline: NEEDED_UNTIL - 1 } })?.code).toBe("channel-expiry");
    expect(check({ channel: { deadline: NEEDED_UNTIL } })).toBeUndefined();
  });

  it("refuses a manifest whose total passes the node's limit, before a byte of it is sent", () => {
    const input = (path: string, size: number) => ({ path, size, sha256: "0".repeat(64) });
    expect(check({ start: { inputs: [input("data.bin", MAX_INPUT_BYTES)] } })).toBeUndefined();
    expect(check({ start: { inputs: [input("data.bin", MAX_INPUT_BYTES + 1)] } })).toEqual({
      code: "inputs-too-large",
      message: `the inputs total ${MAX_INPUT_BYTES + 1} bytes, more than the ${MAX_INPUT_BYTES} this provider takes`,
    });
    const half = MAX_INPUT_BYTES / 2;
    expect(check({ start: { inputs: [input("a", half), input("b", half + 1)] } })?.code).toBe(
      "inputs-too-large",
    );
  });

  it("refuses a manifest that names one path twice", () => {
    const input = (path: string) => ({ path, size: 1, sha256: "0".repeat(64) });
    expect(check({ start: { inputs: [input("a/b.txt"), input("a//b.txt")] } })?.code).toBe("input-bad-path");
  });
});
