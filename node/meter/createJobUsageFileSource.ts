import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import type { Meter } from "../../marketplace/messages/primitives.ts";
import { JOB_SOURCE } from "../../marketplace/messages/usage.ts";
import { StoreError } from "../../marketplace/store/errors.ts";
import { validateUsageEvent } from "../store/validateUsageEvent.ts";
import {
  MAX_JOB_USAGE_ID_CHARS,
  MAX_JOB_USAGE_LINE_BYTES,
  MAX_JOB_USAGE_QUANTITY,
  MAX_JOB_USAGE_READ_BYTES,
} from "./constants.ts";
import type { UsageEvent, UsageSource } from "./types.ts";

/** Options for {@link createJobUsageFileSource}. */
export interface JobUsageFileSourceOptions {
  jobId: string;
  /** The file the job appends to (GRIDSPOT_USAGE_FILE), inside its work dir. */
  path: string;
  /** Where a count of skipped lines goes (the job's logger). Line contents are never logged. */
  onWarning: (message: string, fields?: Record<string, unknown>) => void;
  /**
   * The meters the job's agreement names as self-reported (`agreement.selfReported ?? []`): a line
   * for any other meter is skipped as bad. Default `requests` and `tokens`, for callers that predate
   * the agreement field; a job runner passes the agreement's list.
   */
  selfReported?: readonly Meter[] | undefined;
}

/** A {@link UsageSource} of the job's own `requests` and `tokens`, with counts for the report. */
export interface JobUsageFileSource extends UsageSource {
  readonly acceptedLines: number;
  readonly badLines: number;
}

/**
 * Ingests the usage a job reports itself: JSON lines `{"meter":"requests"|"tokens","quantity":N,
 * "id":"<unique>"}` appended to GRIDSPOT_USAGE_FILE. At each meter sample the lines added since the
 * last one become events `{id: "${jobId}:job:${id}", source: "job"}`; a repeated id is a duplicate
 * in the ledger, so a job that writes a line twice is billed once.
 *
 * The job controls the file, so it is read defensively: never through a symlink, never from
 * anything but a regular file (a FIFO would block), at most MAX_JOB_USAGE_READ_BYTES per sample,
 * and only whole lines (a line being written is read at the next sample). A bad line (not JSON,
 * another meter, a quantity that is not an integer in [0, MAX_JOB_USAGE_QUANTITY], a missing or
 * overlong id, a line over MAX_JOB_USAGE_LINE_BYTES) is skipped and counted in a warning; nothing
 * the job writes can stop metering or the job.
 */
export function createJobUsageFileSource(options: JobUsageFileSourceOptions): JobUsageFileSource {
  let offset = 0;
  let partial = Buffer.alloc(0);
  let skippingLongLine = false;
  let accepted = 0;
  let bad = 0;
  let lineNumber = 0;
  // Only requests and tokens can ever come from the job: the node measures every other meter itself.
  const allowed = (options.selfReported ?? ["requests", "tokens"]).filter(
    (m) => m === "requests" || m === "tokens",
  );

  const readNew = (): Buffer => {
    let fd: number;
    try {
      fd = openSync(options.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return Buffer.alloc(0);
      throw new Error(`cannot open the job's usage file (${code ?? (error as Error).message})`);
    }
    try {
      const info = fstatSync(fd);
      if (!info.isFile()) throw new Error("the job's usage file is not a regular file");
      // A job that truncated its file starts over; ids keep the lines it re-writes from counting twice.
      if (info.size < offset) {
        offset = 0;
        partial = Buffer.alloc(0);
      }
      const length = Math.min(info.size - offset, MAX_JOB_USAGE_READ_BYTES);
      if (length <= 0) return Buffer.alloc(0);
      const buffer = Buffer.alloc(length);
      const read = readSync(fd, buffer, 0, length, offset);
      offset += read;
      return buffer.subarray(0, read);
    } finally {
      closeSync(fd);
    }
  };

  const parseLine = (line: string, timeMs: number): UsageEvent | string => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      return "not JSON";
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) return "not a JSON object";
    const { meter, quantity, id } = value as Record<string, unknown>;
    if ((meter !== "requests" && meter !== "tokens") || !allowed.includes(meter))
      return `meter must be one the agreement names as self-reported (${allowed.join(", ") || "none"})`;
    if (typeof id !== "string" || id === "" || id.length > MAX_JOB_USAGE_ID_CHARS) {
      return `id must be a string of 1 to ${MAX_JOB_USAGE_ID_CHARS} characters`;
    }
    let amount: bigint;
    if (typeof quantity === "number" && Number.isSafeInteger(quantity) && quantity >= 0)
      amount = BigInt(quantity);
    else if (typeof quantity === "string" && /^\d{1,19}$/.test(quantity)) amount = BigInt(quantity);
    else return "quantity must be a non-negative integer";
    if (amount > MAX_JOB_USAGE_QUANTITY) return `quantity above ${MAX_JOB_USAGE_QUANTITY}`;
    const event: UsageEvent = {
      id: `${options.jobId}:job:${id}`,
      jobId: options.jobId,
      source: JOB_SOURCE,
      meter,
      quantity: amount,
      time: timeMs,
    };
    try {
      validateUsageEvent(event);
    } catch (error) {
      return error instanceof StoreError ? String(error.facts.problem ?? error.message) : "invalid";
    }
    return event;
  };

  return {
    name: "job-usage-file",
    get acceptedLines() {
      return accepted;
    },
    get badLines() {
      return bad;
    },
    collect(observation) {
      const chunk = readNew();
      if (chunk.length === 0) return [];
      let data = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
      const events: UsageEvent[] = [];
      const problems: string[] = [];
      let firstBadLine: number | undefined;
      for (;;) {
        const newline = data.indexOf(0x0a);
        if (newline === -1) break;
        const raw = data.subarray(0, newline);
        data = data.subarray(newline + 1);
        lineNumber++;
        if (skippingLongLine) {
          // The end of a line already counted as too long.
          skippingLongLine = false;
          continue;
        }
        const text = raw.toString("utf8").trim();
        if (text === "") continue;
        const parsed =
          raw.length > MAX_JOB_USAGE_LINE_BYTES
            ? `line longer than ${MAX_JOB_USAGE_LINE_BYTES} bytes`
            : parseLine(text, observation.timeMs);
        if (typeof parsed === "string") {
          bad++;
          firstBadLine ??= lineNumber;
          problems.push(parsed);
        } else {
          accepted++;
          events.push(parsed);
        }
      }
      if (data.length > MAX_JOB_USAGE_LINE_BYTES) {
        // Unbounded line: count it once, drop what was read, and skip the rest of it.
        if (!skippingLongLine) {
          bad++;
          lineNumber++;
          firstBadLine ??= lineNumber;
          problems.push(`line longer than ${MAX_JOB_USAGE_LINE_BYTES} bytes`);
        }
        skippingLongLine = true;
        data = Buffer.alloc(0);
      }
      partial = Buffer.from(data);
      if (problems.length > 0) {
        options.onWarning("skipped bad lines in the job's usage file", {
          count: problems.length,
          firstLine: firstBadLine,
          firstProblem: problems[0],
        });
      }
      return events;
    },
  };
}
