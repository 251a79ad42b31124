import { posix } from "node:path";
import type { Address } from "viem";
import type { ChannelState } from "../../marketplace/chain/actions/readChannel.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { JobStart } from "../../marketplace/messages/job.ts";
import { channelMinimum } from "../../marketplace/receipt/channelMinimum.ts";

export type StartRefusal = { code: string; message: string };

/**
 * Whether the provider may start a job on this channel: the channel is the submitter's, ours, open,
 * funded above the submitter's base with at least `channelMinimum` (the minimum charge plus two
 * receipt intervals at the agreed maximum rates), and redeemable for longer than the job can run; and whether the
 * inputs' manifest fits the node's `maxInputBytes` (checked before a byte of them is received).
 * `signedFloor` is the most we already hold a voucher for (or saw redeemed): a base below it would
 * bill twice.
 */
export function checkJobStart(parameters: {
  start: JobStart;
  agreement: Agreement;
  channel: ChannelState;
  provider: Address;
  signedFloor: bigint;
  nowS: number;
  /** The most input bytes this node takes (provider.json `limits.maxInputBytes`). */
  maxInputBytes: number;
}): StartRefusal | undefined {
  const { start, agreement, channel, provider, signedFloor, nowS, maxInputBytes } = parameters;
  if (channel.status !== "open")
    return { code: "channel-not-open", message: `channel ${start.channelId} is ${channel.status}` };
  if (channel.payer !== agreement.submitter)
    return { code: "channel-payer", message: "the channel's payer is not the submitter" };
  if (channel.provider !== provider)
    return { code: "channel-provider", message: "the channel does not pay this provider" };
  if (start.channelBase < signedFloor) {
    return {
      code: "channel-base",
      message: `base ${start.channelBase} is below ${signedFloor}, already signed or redeemed on this channel`,
    };
  }
  if (start.channelBase >= channel.amount)
    return { code: "channel-empty", message: "no funds left in the channel above the base" };
  const minimum = channelMinimum(agreement);
  if (channel.amount - start.channelBase < minimum) {
    return {
      code: "channel-minimum",
      message: `the channel holds ${channel.amount - start.channelBase} above the base; a job needs at least ${minimum} (the minimum charge plus two receipt intervals at the agreed maximum rates)`,
    };
  }
  const needUntil = nowS + agreement.maxDurationS + Math.ceil((agreement.receiptIntervalMs * 4) / 1000) + 60;
  if (channel.deadline < needUntil) {
    return {
      code: "channel-expiry",
      message: `the channel's redemption window ends before the job could (at ${channel.deadline})`,
    };
  }
  // An endpoint agreement runs an endpoint spec, and a job agreement a job: the terms priced differ.
  if ((start.spec.endpoint === undefined) !== (agreement.endpoint === undefined)) {
    return {
      code: "endpoint-mismatch",
      message:
        agreement.endpoint === undefined
          ? "the start serves an endpoint but the agreement is for a batch job"
          : "the agreement is for an endpoint but the start has no endpoint spec",
    };
  }
  const inputBytes = start.inputs.reduce((sum, f) => sum + f.size, 0);
  if (inputBytes > maxInputBytes) {
    return {
      code: "inputs-too-large",
      message: `the inputs total ${inputBytes} bytes, more than the ${maxInputBytes} this provider takes`,
    };
  }
  const paths = new Set<string>();
  for (const input of start.inputs) {
    const path = posix.normalize(input.path);
    if (paths.has(path))
      return { code: "input-bad-path", message: `input ${JSON.stringify(input.path)} given twice` };
    paths.add(path);
  }
  return undefined;
}
