import { posix } from "node:path";
import { RunError } from "./errors.ts";

/**
 * Checks a path (or glob) meant to stay inside a work dir and returns it normalised: relative, no
 * `..` segment, no NUL byte, not empty. Symlinks are checked separately, on the disk.
 * @throws RunError naming the path and what is wrong with it.
 */
export function relativeJobPath(path: string, what = "path"): string {
  if (typeof path !== "string" || path === "") throw new RunError(`empty ${what}`, { path });
  if (path.includes("\0"))
    throw new RunError(`${what} ${JSON.stringify(path)} contains a NUL byte`, { path });
  if (posix.isAbsolute(path))
    throw new RunError(`${what} ${JSON.stringify(path)} must be relative`, { path });
  if (path.split("/").includes("..")) {
    throw new RunError(`${what} ${JSON.stringify(path)} must not contain ".."`, { path });
  }
  const normal = posix.normalize(path);
  if (normal === "." || normal === "./")
    throw new RunError(`${what} ${JSON.stringify(path)} names the work dir itself`, { path });
  return normal;
}

/** True when `child` is `parent` or below it (both absolute, symlink-free). */
export function isInside(parent: string, child: string): boolean {
  const rel = posix.relative(parent, child);
  return rel === "" || (!rel.startsWith("../") && rel !== ".." && !posix.isAbsolute(rel));
}
