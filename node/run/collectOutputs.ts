import { constants } from "node:fs";
import { glob, lstat, open, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { DroppedOutput, OutputEntry } from "../../marketplace/messages/job.ts";
import { MAX_JOB_PATH_CHARS } from "../../marketplace/p2p/constants.ts";
import { hashFile } from "../../marketplace/transfer/hashFile.ts";
import { RunError } from "./errors.ts";
import { isInside, relativeJobPath } from "./relativeJobPath.ts";

/** Limits for {@link collectOutputs}. */
export interface CollectOutputsLimits {
  maxTotalBytes: number;
  maxFiles: number;
}

/** One collected file, as the outputs frame lists it; `path` is relative to the work dir, as matched. */
export type OutputFile = OutputEntry;

/** What {@link collectOutputs} found. */
export interface CollectedOutputs {
  files: OutputFile[];
  /** A matched file left out, and why: the outputs frame's own schema. */
  dropped: DroppedOutput[];
  totalBytes: number;
}

/**
 * Lists the job's output files matching `globs` (Node's fs.glob syntax, relative to the work dir)
 * with their size and sha256, read one chunk at a time (never a whole file in memory); the files
 * are sent from disk later. Call it after the job has exited: a running job could swap files under
 * it.
 *
 * Limits never fail the call: files are taken in path order while they fit under `maxFiles` and
 * `maxTotalBytes`; the rest are returned in `dropped` with the reason, so the job's owner still gets
 * what fits and learns exactly what did not. Folders matched by a glob are skipped. Symlinks are
 * never followed: a path that resolves outside the work dir is dropped as `outside-work-dir`, one
 * that goes through a symlink inside it as `symlink`, anything but a regular file as `not-a-file`,
 * a path longer than MAX_JOB_PATH_CHARS as `bad-path`.
 * @throws RunError on an absolute glob, a `..` segment, bad limits or a missing work dir.
 */
export async function collectOutputs(
  workDir: string,
  globs: readonly string[],
  limits: CollectOutputsLimits,
): Promise<CollectedOutputs> {
  const patterns = globs.map((g) => relativeJobPath(g, "output glob"));
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RunError(`${name} must be a non-negative integer, got ${String(value)}`, { [name]: value });
    }
  }
  const root = await realpath(workDir).catch((error: unknown) => {
    throw new RunError(`work dir ${workDir} does not exist`, { workDir }, error);
  });
  const matched = new Set<string>();
  if (patterns.length > 0) {
    for await (const path of glob(patterns, { cwd: root })) matched.add(path);
  }

  const result: CollectedOutputs = { files: [], dropped: [], totalBytes: 0 };
  for (const path of [...matched].sort()) {
    if (path.length > MAX_JOB_PATH_CHARS) {
      result.dropped.push({ path: `${path.slice(0, MAX_JOB_PATH_CHARS - 1)}…`, reason: "bad-path" });
      continue;
    }
    const full = join(root, path);
    const real = await realpath(full).catch(() => undefined);
    if (real === undefined) {
      const link = await lstat(full).then(
        (s) => s.isSymbolicLink(),
        () => false,
      );
      result.dropped.push({ path, reason: link ? "symlink" : "not-a-file" });
      continue;
    }
    if (!isInside(root, real)) {
      result.dropped.push({ path, reason: "outside-work-dir" });
      continue;
    }
    if (real !== full) {
      result.dropped.push({ path, reason: "symlink" });
      continue;
    }
    const handle = await open(full, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
      () => undefined,
    );
    if (handle === undefined) {
      result.dropped.push({ path, reason: "not-a-file" });
      continue;
    }
    try {
      const stat = await handle.stat();
      if (stat.isDirectory()) continue;
      if (!stat.isFile()) {
        result.dropped.push({ path, reason: "not-a-file" });
      } else if (result.files.length >= limits.maxFiles) {
        result.dropped.push({ path, size: stat.size, reason: "max-files" });
      } else if (result.totalBytes + stat.size > limits.maxTotalBytes) {
        result.dropped.push({ path, size: stat.size, reason: "max-total-bytes" });
      } else {
        // At most the size checked against the limits, however the file changes.
        const { size, sha256 } = await hashFile(handle, stat.size);
        result.files.push({ path, size, sha256 });
        result.totalBytes += size;
      }
    } finally {
      await handle.close();
    }
  }
  return result;
}
