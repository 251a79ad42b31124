import { constants } from "node:fs";
import { lstat, mkdir, open, realpath } from "node:fs/promises";
import { join, posix } from "node:path";
import { RunError } from "./errors.ts";
import { relativeJobPath } from "./relativeJobPath.ts";
import type { InputFile } from "./types.ts";

/**
 * Writes a job's input files into its work dir, creating folders as needed. All paths are checked
 * before anything is written, and nothing is ever written through a symlink: folders are walked one
 * component at a time (a symlinked component is refused, never followed) and files are opened with
 * O_NOFOLLOW, so even a work dir the job has already populated cannot redirect a write outside it.
 * @throws RunError on an absolute path, a `..` segment, a repeated path, non-binary content or a
 * symlink on the way.
 */
export async function writeInputs(workDir: string, files: readonly InputFile[]): Promise<void> {
  const seen = new Set<string>();
  const checked = files.map((file) => {
    const path = relativeJobPath(file.path, "input path");
    if (seen.has(path)) throw new RunError(`input path ${JSON.stringify(file.path)} given twice`, { path });
    seen.add(path);
    if (!(file.content instanceof Uint8Array)) {
      throw new RunError(`input ${JSON.stringify(file.path)}: content must be a Uint8Array`, { path });
    }
    return { ...file, path };
  });
  const root = await realpath(workDir);
  for (const file of checked) {
    await makeFolders(root, posix.dirname(file.path), file.path);
    const mode = file.executable === true ? 0o755 : 0o644;
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
    const handle = await open(join(root, file.path), flags, mode).catch((error: NodeJS.ErrnoException) => {
      throw new RunError(
        `cannot write input ${JSON.stringify(file.path)}: ${error.code === "ELOOP" ? "it is a symlink" : (error.code ?? error.message)}`,
        { path: file.path },
        error,
      );
    });
    try {
      await handle.writeFile(file.content);
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
  }
}

async function makeFolders(root: string, folder: string, forPath: string): Promise<void> {
  if (folder === ".") return;
  let current = root;
  for (const part of folder.split("/")) {
    current = join(current, part);
    const stat = await lstat(current).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (stat === undefined) {
      await mkdir(current);
    } else if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw new RunError(`input ${JSON.stringify(forPath)}: ${part} on its path is not a plain folder`, {
        path: forPath,
      });
    }
  }
}
