import type { Address } from "viem";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { JobStart } from "../../marketplace/messages/job.ts";
import { MAX_JOB_INPUT_BYTES } from "../../marketplace/p2p/constants.ts";
import type { ChannelState } from "./readChannel.ts";

export type StartRefusal = { code: string; message: string };

/**
 * Whether the provider may start a job on this channel: the channel is the submitter's, ours, open,
 * funded above the submitter's base, and redeemable for longer than the job can run. `signedFloor`
 * is the most we already hold a voucher for (or saw redeemed): a base below it would bill twice.
 */
export function checkJobStart(parameters: {
  start: JobStart;
  agreement: Agreement;
  channel: ChannelState;
  provider: Address;
  signedFloor: bigint;
  nowS: number;
}): StartRefusal | undefined {
  const { start, agreement, channel, provider, signedFloor, nowS } = parameters;
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
  const needUntil = nowS + agreement.maxDurationS + Math.ceil((agreement.receiptIntervalMs * 4) / 1000) + 60;
  if (channel.deadline < needUntil) {
    return {
      code: "channel-expiry",
      message: `the channel's redemption window ends before the job could (at ${channel.deadline})`,
    };
  }
  const inputBytes = start.inputs.reduce((sum, f) => sum + Math.floor((f.data.length * 3) / 4), 0);
  if (inputBytes > MAX_JOB_INPUT_BYTES)
    return { code: "inputs-too-large", message: `inputs exceed ${MAX_JOB_INPUT_BYTES} bytes` };
  return undefined;
}
