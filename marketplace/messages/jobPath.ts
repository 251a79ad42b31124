import { posix } from "node:path";
import { TransferError } from "../errors/transfer.ts";

/**
 * Checks a path (or glob) meant to stay inside a job's work dir — an input, an output glob, an
 * output file landing under the submitter's out dir — and returns it normalised: relative, no `..`
 * segment, no NUL byte, not empty, not the folder itself. Symlinks are checked separately, on disk.
 * @throws TransferError (`bad-path`) naming the path and what is wrong with it.
 */
export function jobPath(path: string, what = "path"): string {
  const bad = (problem: string) =>
    new TransferError("bad-path", `${what} ${JSON.stringify(path)} ${problem}`);
  if (typeof path !== "string" || path === "") throw new TransferError("bad-path", `empty ${what}`);
  if (path.includes("\0")) throw bad("contains a NUL byte");
  if (posix.isAbsolute(path)) throw bad("must be relative");
  if (path.split("/").includes("..")) throw bad('must not contain ".."');
  const normal = posix.normalize(path);
  if (normal === "." || normal === "./") throw bad("names the work dir itself");
  return normal;
}
