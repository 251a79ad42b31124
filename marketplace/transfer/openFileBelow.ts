import { constants } from "node:fs";
import { type FileHandle, lstat, mkdir, open } from "node:fs/promises";
import { join, posix } from "node:path";
import { TransferError } from "../errors/transfer.ts";
import { jobPath } from "../messages/jobPath.ts";

export type OpenFileBelowParameters = {
  /** The relative path to create (checked with `jobPath`). */
  path: string;
  /** Mode of a created file. */
  mode: number;
  /** How the path is named in errors ("input", "output"). */
  what: string;
};

/**
 * Creates (or truncates) a file under `root` for writing, making its folders as needed, and never
 * through a symlink: folders are walked one component at a time (a symlinked or non-folder
 * component is refused, never followed) and the file is opened with O_NOFOLLOW, so even a folder a
 * job has already populated cannot redirect the write outside it. `root` must be a real path.
 * @throws TransferError `bad-path` on a path that is not relative, or a symlink on its way;
 * `write-failed` when the file system refuses.
 */
export async function openFileBelow(root: string, p: OpenFileBelowParameters): Promise<FileHandle> {
  const path = jobPath(p.path, `${p.what} path`);
  const named = `${p.what} ${JSON.stringify(p.path)}`;
  let current = root;
  const folder = posix.dirname(path);
  for (const part of folder === "." ? [] : folder.split("/")) {
    current = join(current, part);
    const stat = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw new TransferError("write-failed", `${named}: cannot look at ${part}`, { cause: error });
    });
    if (stat === undefined) {
      await mkdir(current).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "EEXIST")
          throw new TransferError("write-failed", `${named}: cannot create ${part}`, { cause: error });
      });
      // Made concurrently by someone else: look again rather than trust it.
      const made = await lstat(current);
      if (!made.isDirectory() || made.isSymbolicLink())
        throw new TransferError("bad-path", `${named}: ${part} on its path is not a plain folder`);
    } else if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw new TransferError("bad-path", `${named}: ${part} on its path is not a plain folder`);
    }
  }
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
  return open(join(root, path), flags, p.mode).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ELOOP") throw new TransferError("bad-path", `${named}: it is a symlink`);
    if (error.code === "EISDIR") throw new TransferError("bad-path", `${named}: it is a folder`);
    throw new TransferError("write-failed", `${named}: ${error.code ?? error.message}`, { cause: error });
  });
}
