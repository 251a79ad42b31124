import { constants } from "node:fs";
import { type FileHandle, glob, open, realpath } from "node:fs/promises";
import { join } from "node:path";
import { RunError } from "./errors.ts";
import { isInside, relativeJobPath } from "./relativeJobPath.ts";

/** Limits for {@link collectOutputs}. */
export interface CollectOutputsLimits {
  maxTotalBytes: number;
  maxFiles: number;
}

/** One collected file; `path` is relative to the work dir, as matched. */
export interface OutputFile {
  path: string;
  content: Uint8Array;
}

/** A matched file left out, and why. */
export interface DroppedOutput {
  path: string;
  /** Size in bytes when known. */
  size?: number;
  reason: "max-files" | "max-total-bytes" | "outside-work-dir" | "not-a-file";
}

/** What {@link collectOutputs} found. */
export interface CollectedOutputs {
  files: OutputFile[];
  dropped: DroppedOutput[];
  totalBytes: number;
}

/**
 * Collects the job's output files matching `globs` (Node's fs.glob syntax, relative to the work dir).
 * Call it after the job has exited: a running job could swap files under it.
 *
 * Limits never fail the call: files are taken in path order while they fit under `maxFiles` and
 * `maxTotalBytes`; the rest are returned in `dropped` with the reason, so the job's owner still gets
 * what fits and learns exactly what did not. Folders matched by a glob are skipped. A path that
 * resolves outside the work dir through a symlink is never read (dropped as `outside-work-dir`); a
 * symlink to a file inside the work dir is read like that file.
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
    const real = await realpath(join(root, path)).catch(() => undefined);
    if (real === undefined || !isInside(root, real)) {
      result.dropped.push({ path, reason: "outside-work-dir" });
      continue;
    }
    const handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(
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
        const content = await readUpTo(handle, stat.size);
        result.files.push({ path, content });
        result.totalBytes += content.length;
      }
    } finally {
      await handle.close();
    }
  }
  return result;
}

/** Reads at most `size` bytes (the size checked against the limits), however the file changes. */
async function readUpTo(handle: FileHandle, size: number): Promise<Uint8Array> {
  const content = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const { bytesRead } = await handle.read(content, offset, size - offset, offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return content.subarray(0, offset);
}
