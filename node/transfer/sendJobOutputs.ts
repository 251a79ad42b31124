import { constants } from "node:fs";
import { open, realpath } from "node:fs/promises";
import { join } from "node:path";
import { MAX_JOB_FILES } from "../../marketplace/p2p/constants.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import { sendFiles } from "../../marketplace/transfer/sendFiles.ts";
import type { CollectedOutputs } from "../run/collectOutputs.ts";

export type SendJobOutputsParameters = {
  workDir: string;
  outputs: CollectedOutputs;
  signal?: AbortSignal | undefined;
};

/**
 * The provider's side of the output transfer: the manifest (`outputs`: each file's path, size and
 * sha256, and the dropped ones with their reason), then the files' chunks read from the work dir,
 * then `outputs-done`. A file is opened only if it still is that regular file inside the work dir
 * (no symlink anywhere on its path); one that is not any more goes as zeros, and the submitter sees
 * its sha256 fail. Returns the file bytes sent.
 */
export async function sendJobOutputs(channel: FrameChannel, p: SendJobOutputsParameters): Promise<number> {
  const root = await realpath(p.workDir);
  const options = p.signal === undefined ? {} : { signal: p.signal };
  await channel.write(
    { type: "outputs", files: p.outputs.files, dropped: p.outputs.dropped.slice(0, MAX_JOB_FILES) },
    options,
  );
  return sendFiles(channel, {
    files: p.outputs.files.map((file) => ({
      path: file.path,
      size: file.size,
      async open() {
        const full = join(root, file.path);
        if ((await realpath(full).catch(() => undefined)) !== full) return undefined;
        const handle = await open(
          full,
          constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
        ).catch(() => undefined);
        if (handle !== undefined && !(await handle.stat()).isFile()) {
          await handle.close();
          return undefined;
        }
        return handle;
      },
    })),
    frames: { chunk: "output-chunk", done: "outputs-done" },
    signal: p.signal,
  });
}
