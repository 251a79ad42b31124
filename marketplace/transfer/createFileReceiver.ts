import { createHash, type Hash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { TransferError, type TransferErrorCode } from "../errors/transfer.ts";
import type { DropReason } from "../messages/job.ts";
import { jobPath } from "../messages/jobPath.ts";
import { openFileBelow } from "./openFileBelow.ts";
import type { TransferProgress } from "./sendFiles.ts";

/** A manifest entry to receive. */
export type FileToReceive = { path: string; size: number; sha256: string; executable?: boolean | undefined };

export type FileReceiverParameters = {
  /** The real path of the folder the files land in (it exists). */
  root: string;
  files: readonly FileToReceive[];
  /**
   * Inputs: the first problem throws and nothing more is taken. Outputs: a file with a problem is
   * deleted, listed in `failed`, and the others still arrive.
   */
  strict: boolean;
  /** How files are named in errors ("input", "output"). */
  what: "input" | "output";
  onProgress?: ((progress: TransferProgress) => void) | undefined;
};

export type ReceivedFiles = {
  /** Written and verified, in manifest order; `target` is where it is on disk. */
  files: { path: string; size: number; sha256: string; target: string }[];
  failed: { path: string; reason: DropReason; size: number; message: string }[];
};

export type FileReceiver = {
  /** Takes the next chunk frame: chunks come in manifest order, each file's from offset 0 on. */
  chunk(frame: { index: number; offset: number; data: string }): Promise<void>;
  /** The done frame: checks the files not yet complete, and says what arrived. */
  finish(): Promise<ReceivedFiles>;
  /** Gives up: closes and removes the file being written. */
  abort(): Promise<void>;
};

/** What can be wrong with one file: a transfer error code that is also a reason to drop an output. */
type FileProblem = Extract<TransferErrorCode, DropReason>;

type Current = {
  index: number;
  handle: FileHandle | undefined;
  hash: Hash;
  written: number;
  /** Dropped already: its remaining chunks are read and thrown away. */
  skipping: boolean;
};

/**
 * Receives files sent by `sendFiles` straight to disk under `root`: each chunk is decoded, hashed
 * and written before the next is taken, so at most one chunk is in memory. Files are created with
 * `openFileBelow` (relative paths only, never through a symlink, folders made as needed), checked
 * against their manifest size and sha256 when complete, and given mode 0755 when `executable`.
 * @throws TransferError: `chunk-order` for a chunk out of manifest order (either mode); in strict
 * mode also `bad-path`, `size-mismatch`, `sha256-mismatch` or `write-failed` for the first file
 * with that problem.
 */
export async function createFileReceiver(p: FileReceiverParameters): Promise<FileReceiver> {
  const { root, files, strict, what } = p;
  const totalBytes = files.reduce((sum, f) => sum + f.size, 0);
  const result: ReceivedFiles = { files: [], failed: [] };
  const refused = new Map<number, { code: FileProblem; message: string }>();
  const seen = new Set<string>();
  for (const [index, file] of files.entries()) {
    try {
      const path = jobPath(file.path, `${what} path`);
      if (seen.has(path))
        throw new TransferError("bad-path", `${what} ${JSON.stringify(file.path)} given twice`);
      seen.add(path);
    } catch (error) {
      if (!(error instanceof TransferError) || strict) throw error;
      refused.set(index, { code: "bad-path", message: error.shortMessage });
    }
  }

  let bytes = 0;
  let next = 0;
  let current: Current | undefined;
  let finished = false;

  const fail = async (state: Current, code: FileProblem, message: string): Promise<void> => {
    const file = files[state.index] as FileToReceive;
    state.skipping = true;
    if (state.handle !== undefined) {
      await state.handle.close().catch(() => {});
      state.handle = undefined;
      await unlink(join(root, jobPath(file.path))).catch(() => {});
    }
    if (strict) throw new TransferError(code, message);
    result.failed.push({ path: file.path, reason: code, size: file.size, message });
  };

  /** Makes file `index` the current one: opens it, unless its path was refused. */
  const begin = async (index: number): Promise<Current> => {
    const state: Current = {
      index,
      handle: undefined,
      hash: createHash("sha256"),
      written: 0,
      skipping: false,
    };
    const file = files[index] as FileToReceive;
    const refusal = refused.get(index);
    if (refusal !== undefined) {
      await fail(state, refusal.code, refusal.message);
      return state;
    }
    try {
      state.handle = await openFileBelow(root, {
        path: file.path,
        mode: file.executable === true ? 0o755 : 0o644,
        what,
      });
    } catch (error) {
      if (!(error instanceof TransferError)) throw error;
      await fail(state, error.code === "bad-path" ? "bad-path" : "write-failed", error.shortMessage);
    }
    return state;
  };

  /** Closes the current file and checks it against its manifest entry. */
  const complete = async (state: Current): Promise<void> => {
    const file = files[state.index] as FileToReceive;
    if (state.skipping) return;
    const named = `${what} ${JSON.stringify(file.path)}`;
    if (state.written !== file.size)
      return fail(
        state,
        "size-mismatch",
        `${named}: got ${state.written} bytes, the manifest says ${file.size}`,
      );
    const sha256 = state.hash.digest("hex");
    if (sha256 !== file.sha256)
      return fail(
        state,
        "sha256-mismatch",
        `${named}: its sha256 is ${sha256}, the manifest says ${file.sha256}`,
      );
    const handle = state.handle as FileHandle;
    state.handle = undefined;
    try {
      // The mode given at creation is masked by the umask; the manifest's is meant.
      await handle.chmod(file.executable === true ? 0o755 : 0o644);
    } finally {
      await handle.close();
    }
    result.files.push({ path: file.path, size: file.size, sha256, target: join(root, jobPath(file.path)) });
  };

  /** Completes every file before `index` (empty ones are created here) and begins `index`. */
  const advanceTo = async (index: number): Promise<void> => {
    while (next <= index) {
      if (current !== undefined) await complete(current);
      current = next < files.length ? await begin(next) : undefined;
      next += 1;
    }
  };

  return {
    async chunk(frame) {
      if (finished) throw new TransferError("chunk-order", `a chunk after the ${what}s were done`);
      if (frame.index >= files.length || (current !== undefined && frame.index < current.index))
        throw new TransferError("chunk-order", `a chunk for ${what} ${frame.index} out of order`);
      await advanceTo(frame.index);
      const state = current as Current;
      const file = files[state.index] as FileToReceive;
      if (frame.offset !== state.written)
        throw new TransferError(
          "chunk-order",
          `${what} ${JSON.stringify(file.path)}: a chunk at ${frame.offset}, expected ${state.written}`,
        );
      const data = Buffer.from(frame.data, "base64");
      state.written += data.length;
      bytes += data.length;
      if (state.skipping) return;
      if (state.written > file.size)
        return fail(
          state,
          "size-mismatch",
          `${what} ${JSON.stringify(file.path)}: more than the ${file.size} bytes of the manifest`,
        );
      state.hash.update(data);
      try {
        let done = 0;
        while (done < data.length) {
          const { bytesWritten } = await (state.handle as FileHandle).write(data, done, data.length - done);
          done += bytesWritten;
        }
      } catch (error) {
        return fail(
          state,
          "write-failed",
          `${what} ${JSON.stringify(file.path)}: ${(error as Error).message}`,
        );
      }
      p.onProgress?.({ path: file.path, fileBytes: state.written, fileSize: file.size, bytes, totalBytes });
    },
    async finish() {
      if (!finished) {
        finished = true;
        await advanceTo(files.length);
      }
      return result;
    },
    async abort() {
      finished = true;
      if (current?.handle !== undefined) {
        const file = files[current.index] as FileToReceive;
        await current.handle.close().catch(() => {});
        current.handle = undefined;
        await unlink(join(root, jobPath(file.path))).catch(() => {});
      }
    },
  };
}
