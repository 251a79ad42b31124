import { constants } from "node:fs";
import { open, readdir, stat } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { TransferError } from "../errors/transfer.ts";
import { jobPath } from "../messages/jobPath.ts";
import { MAX_JOB_FILES } from "../p2p/constants.ts";
import { hashFile } from "./hashFile.ts";

/** A local file to send as a job input: where it is here, and its manifest entry. */
export type LocalFile = {
  /** Its path in the job's work dir. */
  path: string;
  /** Its absolute path here. */
  source: string;
  size: number;
  sha256: string;
  executable?: boolean;
};

export type LocalInputManifest = {
  files: LocalFile[];
  /** Entries inside a folder that are not sent (symlinks, fifos, sockets), and why. */
  skipped: { source: string; reason: string }[];
  totalBytes: number;
};

/**
 * The manifest of a job's inputs from local paths (`--input`), each file hashed as it is read. A
 * file lands in the work dir under its own name; a folder under its name with everything below it,
 * relative paths kept (`data/` → `data/a/b.txt`). A path given directly may be a symlink (it is
 * followed: you named it); inside a folder, symlinks and anything but files and folders are skipped
 * and listed in `skipped`. The executable bit is kept.
 * @throws TransferError `read-failed` on a path that cannot be read, `bad-path` on two inputs that
 * would land on the same path, `too-large` beyond MAX_JOB_FILES files.
 */
export async function localInputManifest(paths: readonly string[]): Promise<LocalInputManifest> {
  const manifest: LocalInputManifest = { files: [], skipped: [], totalBytes: 0 };
  const seen = new Map<string, string>();
  const add = async (source: string, path: string, followSymlink: boolean) => {
    const jobFile = jobPath(path, "input path");
    const earlier = seen.get(jobFile);
    if (earlier !== undefined)
      throw new TransferError("bad-path", `${earlier} and ${source} would both be the input ${jobFile}`);
    if (manifest.files.length >= MAX_JOB_FILES)
      throw new TransferError("too-large", `more than ${MAX_JOB_FILES} input files`);
    seen.set(jobFile, source);
    const flags = constants.O_RDONLY | (followSymlink ? 0 : constants.O_NOFOLLOW);
    const handle = await open(source, flags).catch((error: Error) => {
      throw new TransferError("read-failed", `Cannot read the input ${source}`, { cause: error });
    });
    try {
      const { mode } = await handle.stat();
      const { size, sha256 } = await hashFile(handle);
      manifest.files.push({
        path: jobFile,
        source,
        size,
        sha256,
        ...((mode & 0o100) !== 0 ? { executable: true } : {}),
      });
      manifest.totalBytes += size;
    } finally {
      await handle.close();
    }
  };
  const walk = async (folder: string, prefix: string): Promise<void> => {
    const entries = await readdir(folder, { withFileTypes: true }).catch((error: Error) => {
      throw new TransferError("read-failed", `Cannot read the input folder ${folder}`, { cause: error });
    });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const source = join(folder, entry.name);
      const path = `${prefix}/${entry.name}`;
      if (entry.isSymbolicLink()) manifest.skipped.push({ source, reason: "a symlink" });
      else if (entry.isDirectory()) await walk(source, path);
      else if (entry.isFile()) await add(source, path, false);
      else manifest.skipped.push({ source, reason: "not a regular file" });
    }
  };
  for (const given of paths) {
    const source = resolve(given);
    const info = await stat(source).catch((error: Error) => {
      throw new TransferError("read-failed", `Cannot read the input ${given}`, { cause: error });
    });
    const name = basename(source);
    if (info.isDirectory()) await walk(source, name);
    else if (info.isFile()) await add(source, name, true);
    else throw new TransferError("read-failed", `The input ${given} is not a file or a folder`);
  }
  return manifest;
}
