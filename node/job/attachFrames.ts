import type { Envelope } from "../../marketplace/messages/envelope.ts";
import type { JobAttach } from "../../marketplace/messages/job.ts";
import type { LogReplay } from "./logReplay.ts";

export type AttachFramesParameters = {
  jobId: string;
  request: JobAttach;
  /** The `started` frame the job sent first, sent again as it was. */
  started: Record<string, unknown>;
  logs: LogReplay;
  /** The notes the payer has not answered, in seq order. */
  unanswered: readonly Envelope[];
  /** Why the job is suspended, as the payer was told; undefined while it runs. */
  suspendedFor: string | undefined;
};

/**
 * What a payer that attaches again missed, in the order it reads it: `attached` (is the job
 * suspended, how many log bytes after its offsets are no longer kept), the `started` frame again,
 * the kept logs after its offsets, each note it has not answered, and, for a suspended job, the
 * `status` that says so (its vouchers resume it).
 */
export function attachFrames(p: AttachFramesParameters): unknown[] {
  const stdout = p.logs.replay("stdout", p.request.logOffsets.stdout);
  const stderr = p.logs.replay("stderr", p.request.logOffsets.stderr);
  return [
    {
      type: "attached",
      jobId: p.jobId,
      suspended: p.suspendedFor !== undefined,
      logGap: { stdout: stdout.gap, stderr: stderr.gap },
    },
    p.started,
    ...stdout.frames,
    ...stderr.frames,
    ...p.unanswered.map((note) => ({ type: "note", note })),
    ...(p.suspendedFor === undefined
      ? []
      : [{ type: "status", status: "suspended", reason: p.suspendedFor }]),
  ];
}
