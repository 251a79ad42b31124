import { z } from "zod";
import { TransferError } from "../errors/transfer.ts";
import { JOB_CHUNK_BYTES, MAX_JOB_FILES, MAX_JOB_PATH_CHARS } from "../p2p/constants.ts";
import { agreement } from "./agreement.ts";
import { endpointSpec } from "./endpoint.ts";
import { envelope } from "./envelope.ts";
import { jobPath } from "./jobPath.ts";
import { id, imageRef, uint } from "./primitives.ts";
import { signedVoucher } from "./receipt.ts";

/** A path inside the job's work dir (see `jobPath`): relative, no `..`, no NUL. */
const workDirPath = (what: string, max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .superRefine((path, ctx) => {
      try {
        jobPath(path, what);
      } catch (error) {
        if (!(error instanceof TransferError)) throw error;
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: error.shortMessage });
      }
    });

/**
 * What to run: a command with arguments and environment, and which files to send back; in a
 * container image (the order's) with an optional entrypoint, or as a plain command.
 */
export const jobSpec = z.object({
  image: imageRef.optional(),
  entrypoint: z.array(z.string().max(4096)).max(64).optional(),
  command: z.string().min(1).max(4096),
  args: z.array(z.string().max(65_536)).max(1024),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string().max(65_536)).default({}),
  /** Globs relative to the work dir (Node's fs.glob syntax). */
  outputs: z.array(workDirPath("output glob", 256)).max(64).default([]),
  /** Serve the command as an HTTP endpoint (DESIGN §12) instead of running it to its end. */
  endpoint: endpointSpec.optional(),
});
export type JobSpec = z.infer<typeof jobSpec>;

/** A file's size in bytes. */
export const fileSize = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A SHA-256 digest, 64 lowercase hex digits. */
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "expected a sha256 as 64 lowercase hex digits");

/**
 * One input file in the signed start: the payer's signature binds its content through the sha256,
 * and the bytes follow as `input-chunk` frames once the provider asks for them (`send-inputs`).
 */
export const inputEntry = z.object({
  path: workDirPath("input path", MAX_JOB_PATH_CHARS),
  size: fileSize,
  sha256: sha256Hex,
  /** Written with mode 0755 instead of 0644. */
  executable: z.boolean().optional(),
});
export type InputEntry = z.infer<typeof inputEntry>;

/**
 * One output file the provider sends back. Its path is checked by the submitter, which drops (and
 * names) one that would land outside its out dir, so one bad entry never costs the others.
 */
export const outputEntry = z.object({
  path: z.string().min(1).max(MAX_JOB_PATH_CHARS),
  size: fileSize,
  sha256: sha256Hex,
});
export type OutputEntry = z.infer<typeof outputEntry>;

/**
 * Why an output file matched by a glob did not arrive: the provider's limits (`max-files`,
 * `max-total-bytes`), a symlink or a path leaving the work dir, not a regular file; or, found by
 * the submitter on receipt, a path it refuses to write (`bad-path`, `write-failed`) or bytes that
 * do not match the manifest (`size-mismatch`, `sha256-mismatch`).
 */
export const DROP_REASONS = [
  "max-files",
  "max-total-bytes",
  "outside-work-dir",
  "symlink",
  "not-a-file",
  "bad-path",
  "write-failed",
  "size-mismatch",
  "sha256-mismatch",
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** An output file left out, and why: one schema for the provider's collection, the frame and the CLI. */
export const droppedOutput = z.object({
  path: z.string().max(MAX_JOB_PATH_CHARS),
  reason: z.enum(DROP_REASONS),
  /** Size in bytes when known. */
  size: fileSize.optional(),
});
export type DroppedOutput = z.infer<typeof droppedOutput>;

/** A piece of a file, in manifest order: file `index`, starting at byte `offset`, base64. */
const chunk = {
  index: z.number().int().nonnegative().max(MAX_JOB_FILES),
  offset: fileSize,
  data: z.string().max(Math.ceil(JOB_CHUNK_BYTES / 3) * 4),
};
export const inputChunkFrame = z.object({ type: z.literal("input-chunk"), ...chunk });
export const inputsDoneFrame = z.object({ type: z.literal("inputs-done") });
export const outputChunkFrame = z.object({ type: z.literal("output-chunk"), ...chunk });
export const outputsDoneFrame = z.object({ type: z.literal("outputs-done") });
export type FileChunkFrame = z.infer<typeof inputChunkFrame> | z.infer<typeof outputChunkFrame>;

/** The submitter's signed start request (payload of a `JobStart` envelope). */
export const jobStart = z.object({
  jobId: id,
  agreement,
  channelId: uint,
  /** What the payer has signed on this channel before this job: the base of its vouchers. */
  channelBase: uint,
  spec: jobSpec,
  /** The inputs' manifest; their bytes follow the start once the provider asks for them. */
  inputs: z.array(inputEntry).max(MAX_JOB_FILES),
});
export type JobStart = z.infer<typeof jobStart>;

/**
 * The payer coming back to a job it started (payload of a `JobAttach` envelope, signed by the
 * agreement's submitter from the same peer id): its agent restarted, or woke up. `logOffsets` are the
 * bytes of each log stream it already holds; the provider re-sends what it kept after them.
 */
export const jobAttach = z.object({
  jobId: id,
  logOffsets: z.object({ stdout: fileSize, stderr: fileSize }),
});
export type JobAttach = z.infer<typeof jobAttach>;

export const JOB_STATUSES = ["completed", "failed", "cancelled", "timeout", "suspended"] as const;
export type JobEndStatus = (typeof JOB_STATUSES)[number];

/**
 * Why a job ended, as a code both sides see (its `reason` says it in words). A job stopped by a limit
 * it bought ends `failed` with `timeout`, `oom`, `pids` or `disk-quota`, billed up to the kill.
 * `exit`: it exited by itself (status completed or failed by its exit code); `cancelled`: the
 * submitter cancelled; `suspended-timeout`: suspended longer than allowed; `unpaid`: no voucher
 * within the grace period, or the payer refused a note; `runtime`: the provider could not run it;
 * `provider-restart`: the provider stopped during the job; `payer-closed`: the payer asked to close
 * the channel on-chain mid-job (the provider redeemed its newest voucher and stopped).
 */
export const JOB_END_REASONS = [
  "exit",
  "timeout",
  "oom",
  "pids",
  "disk-quota",
  "cancelled",
  "suspended-timeout",
  "unpaid",
  "runtime",
  "provider-restart",
  "payer-closed",
] as const;
export type JobEndReason = (typeof JOB_END_REASONS)[number];

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
  /** Instead of `start`, as the first frame: the payer attaches again to a job that runs (or ended). */
  z.object({ type: z.literal("attach"), attach: envelope }),
  z.object({ type: z.literal("cancel"), jobId: id, reason: z.string().max(256) }),
  z.object({
    type: z.literal("refuse"),
    jobId: id,
    noteSeq: z.number().int().nonnegative(),
    reason: z.string().max(512),
  }),
  inputChunkFrame,
  inputsDoneFrame,
]);
export type SubmitterFrame = z.infer<typeof submitterFrame>;

/** Frames the provider sends on `/gridspot/job/1.0.0`. */
export const providerFrame = z.discriminatedUnion("type", [
  /** The start passed every check: the submitter sends the inputs' chunks, then `inputs-done`. */
  z.object({ type: z.literal("send-inputs"), jobId: id }),
  z.object({
    type: z.literal("started"),
    jobId: id,
    /** Epoch ms when the job's first process started. */
    startedAt: z.number().int(),
    /** `docker`, `bwrap` or `none`. */
    sandbox: z.string().max(32),
    runtime: z.enum(["docker", "process"]).optional(),
    /** The image that ran: its repo digest, or its image ID `sha256:…` for a locally built one. */
    imageDigest: z.string().max(512).optional(),
  }),
  z.object({
    type: z.literal("log"),
    stream: z.enum(["stdout", "stderr"]),
    data: z.string(),
    /** Where this chunk starts in its stream, in bytes: a re-attached payer skips what it holds. */
    offset: fileSize.optional(),
  }),
  /**
   * The answer to `attach`: the job runs (or is suspended for want of vouchers); `started` follows,
   * then the logs after the payer's offsets (`logGap` bytes were no longer kept), then every note
   * still unanswered. A job that already ended is answered with its `end` frame instead.
   */
  z.object({
    type: z.literal("attached"),
    jobId: id,
    suspended: z.boolean(),
    logGap: z.object({ stdout: fileSize, stderr: fileSize }),
  }),
  z.object({ type: z.literal("note"), note: envelope }),
  z.object({
    type: z.literal("status"),
    status: z.enum(["suspended", "resumed"]),
    reason: z.string().max(512),
  }),
  /** After the final voucher: the outputs' manifest, then their chunks, then `outputs-done`. */
  z.object({
    type: z.literal("outputs"),
    files: z.array(outputEntry).max(MAX_JOB_FILES),
    /** At most MAX_JOB_FILES of them are listed. */
    dropped: z.array(droppedOutput).max(MAX_JOB_FILES),
  }),
  outputChunkFrame,
  outputsDoneFrame,
  z.object({
    type: z.literal("end"),
    jobId: id,
    status: z.enum(JOB_STATUSES),
    exitCode: z.number().int().nullable(),
    reason: z.string().max(1024),
    reasonCode: z.enum(JOB_END_REASONS).optional(),
    /** The running time billed: from the first process's start to the end, epoch ms. */
    startedAt: z.number().int().optional(),
    endedAt: z.number().int().optional(),
    jobAmount: uint,
  }),
  z.object({ type: z.literal("error"), code: z.string().max(64), message: z.string().max(1024) }),
]);
export type ProviderFrame = z.infer<typeof providerFrame>;
