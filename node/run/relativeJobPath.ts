import { posix } from "node:path";
import { TransferError } from "../../marketplace/errors/transfer.ts";
import { jobPath } from "../../marketplace/messages/jobPath.ts";
import { RunError } from "./errors.ts";

/**
 * Checks a path (or glob) meant to stay inside a work dir and returns it normalised: relative, no
 * `..` segment, no NUL byte, not empty (the one check, `jobPath`, lives with the messages that carry
 * such paths). Symlinks are checked separately, on the disk.
 * @throws RunError naming the path and what is wrong with it.
 */
export function relativeJobPath(path: string, what = "path"): string {
  try {
    return jobPath(path, what);
  } catch (error) {
    if (error instanceof TransferError) throw new RunError(error.shortMessage, { path }, error);
    throw error;
  }
}

/** True when `child` is `parent` or below it (both absolute, symlink-free). */
export function isInside(parent: string, child: string): boolean {
  const rel = posix.relative(parent, child);
  return rel === "" || (!rel.startsWith("../") && rel !== ".." && !posix.isAbsolute(rel));
}
