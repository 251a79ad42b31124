import { realpath } from "node:fs/promises";
import { TransferError } from "../../marketplace/errors/transfer.ts";
import { openFileBelow } from "../../marketplace/transfer/openFileBelow.ts";
import { RunError } from "./errors.ts";
import { relativeJobPath } from "./relativeJobPath.ts";
import type { InputFile } from "./types.ts";

/**
 * Writes a job's input files (held in memory: small ones, e.g. a test's) into its work dir, creating
 * folders as needed. All paths are checked before anything is written, and nothing is ever written
 * through a symlink (`openFileBelow`, the check the job stream's input transfer uses too).
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
    const mode = file.executable === true ? 0o755 : 0o644;
    const handle = await openFileBelow(root, { path: file.path, mode, what: "input" }).catch(
      (error: unknown) => {
        if (error instanceof TransferError)
          throw new RunError(error.shortMessage, { path: file.path }, error);
        throw error;
      },
    );
    try {
      await handle.writeFile(file.content);
      await handle.chmod(mode);
    } finally {
      await handle.close();
    }
  }
}
