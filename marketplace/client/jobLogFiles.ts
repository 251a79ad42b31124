import { closeSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Store } from "../store/openStore.ts";
import { updateSubmitterJob } from "./submitterStore.ts";

export type LogStream = "stdout" | "stderr";

/** Where a job's files live in the data dir: `<dataDir>/jobs/<jobId>/` (logs, and outputs). */
export function jobFolder(dataDir: string, jobId: string): string {
  return join(dataDir, "jobs", jobId);
}

/** A job's log file for one stream: what `job logs` prints. */
export function jobLogFile(dataDir: string, jobId: string, stream: LogStream): string {
  return join(jobFolder(dataDir, jobId), `${stream}.log`);
}

/**
 * Appends a job's logs to `<dataDir>/jobs/<jobId>/{stdout,stderr}.log` as they arrive, and records in
 * the store how many bytes of each stream it holds (the provider's count): a payer that attaches
 * again asks for what comes after, and a piece it already holds (re-sent on attach) is written once.
 * Bytes the provider no longer kept are said in the file, where they would have been.
 */
export function createJobLogFiles(p: {
  store: Store;
  dataDir: string;
  jobId: string;
  /** Bytes of each stream already held (a restarted agent: the store's counts). */
  held: { stdout: number; stderr: number };
}) {
  mkdirSync(jobFolder(p.dataDir, p.jobId), { recursive: true, mode: 0o700 });
  const held = { ...p.held };
  const fds: Record<LogStream, number> = {
    stdout: openSync(jobLogFile(p.dataDir, p.jobId, "stdout"), "a", 0o600),
    stderr: openSync(jobLogFile(p.dataDir, p.jobId, "stderr"), "a", 0o600),
  };
  const save = () => updateSubmitterJob(p.store, p.jobId, { logBytes: held });
  return {
    /** A piece of `stream` starting at `offset` (absent: right after what is held). */
    write(stream: LogStream, data: Buffer, offset = held[stream]): void {
      const skip = Math.max(0, held[stream] - offset);
      if (skip >= data.length) return;
      if (offset > held[stream]) writeSync(fds[stream], gapNotice(stream, offset - held[stream]));
      writeSync(fds[stream], data.subarray(skip));
      held[stream] = offset + data.length;
      save();
    },
    /** `bytes` of `stream` after what is held are gone (the provider's replay buffer overflowed). */
    gap(stream: LogStream, bytes: number): void {
      if (bytes <= 0) return;
      writeSync(fds[stream], gapNotice(stream, bytes));
      held[stream] += bytes;
      save();
    },
    close(): void {
      closeSync(fds.stdout);
      closeSync(fds.stderr);
    },
  };
}

const gapNotice = (stream: LogStream, bytes: number) =>
  `\n[gridspot: ${bytes} bytes of ${stream} were written while the agent was away and the provider no longer kept them]\n`;
