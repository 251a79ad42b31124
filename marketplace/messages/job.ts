import { z } from "zod";
import { agreement } from "./agreement.ts";
import { envelope } from "./envelope.ts";
import { id, uint } from "./primitives.ts";
import { signedVoucher } from "./receipt.ts";

/** What to run: a command with arguments and environment, and which files to send back. */
export const jobSpec = z.object({
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(65_536)).max(1024),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(65_536)).default({}),
  outputs: z.array(z.string().min(1).max(256)).max(64).default([]),
});
export type JobSpec = z.infer<typeof jobSpec>;

export const inputFile = z.object({
  path: z.string().min(1).max(256),
  /** base64 */
  data: z.string(),
});

/** The submitter's signed start request (payload of a `JobStart` envelope). */
export const jobStart = z.object({
  jobId: id,
  agreement,
  channelId: uint,
  /** What the payer has signed on this channel before this job: the base of its vouchers. */
  channelBase: uint,
  spec: jobSpec,
  inputs: z.array(inputFile).max(256),
});
export type JobStart = z.infer<typeof jobStart>;

export const JOB_STATUSES = ["completed", "failed", "cancelled", "timeout", "suspended"] as const;
export type JobEndStatus = (typeof JOB_STATUSES)[number];

/** Frames the submitter sends on `/gridspot/job/1.0.0`. */
export const submitterFrame = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("start"),
    start: envelope,
    /** The Agreement as the provider signed it, and the submitter's countersignature. */
    agreement: z.object({ provider: envelope, submitter: envelope }),
  }),
  z.object({
    type: z.literal("voucher"),
    jobId: id,
    noteSeq: z.number().int().nonnegative(),
    voucher: signedVoucher,
  }),
  z.object({ type: z.literal("cancel"), jobId: id, reason: z.string().max(256) }),
  z.object({
    type: z.literal("refuse"),
    jobId: id,
    noteSeq: z.number().int().nonnegative(),
    reason: z.string().max(512),
  }),
]);
export type SubmitterFrame = z.infer<typeof submitterFrame>;

/** Frames the provider sends on `/gridspot/job/1.0.0`. */
export const providerFrame = z.discriminatedUnion("type", [
  z.object({ type: z.literal("started"), jobId: id, startedAt: z.number().int(), sandbox: z.string() }),
  z.object({ type: z.literal("log"), stream: z.enum(["stdout", "stderr"]), data: z.string() }),
  z.object({ type: z.literal("note"), note: envelope }),
  z.object({
    type: z.literal("status"),
    status: z.enum(["suspended", "resumed"]),
    reason: z.string().max(512),
  }),
  z.object({
    type: z.literal("outputs"),
    files: z.array(z.object({ path: z.string(), data: z.string() })),
    dropped: z.array(z.string()),
  }),
  z.object({
    type: z.literal("end"),
    jobId: id,
    status: z.enum(["completed", "failed", "cancelled", "timeout", "suspended"]),
    exitCode: z.number().int().nullable(),
    reason: z.string().max(1024),
    jobAmount: uint,
  }),
  z.object({ type: z.literal("error"), code: z.string().max(64), message: z.string().max(1024) }),
]);
export type ProviderFrame = z.infer<typeof providerFrame>;
