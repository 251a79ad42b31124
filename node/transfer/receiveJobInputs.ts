import { mkdir, realpath } from "node:fs/promises";
import { TransferError } from "../../marketplace/errors/transfer.ts";
import { type InputEntry, submitterFrame } from "../../marketplace/messages/job.ts";
import { JOB_TRANSFER_IDLE_TIMEOUT_MS } from "../../marketplace/p2p/constants.ts";
import { type FrameChannel, FrameError } from "../../marketplace/p2p/frames.ts";
import { createFileReceiver } from "../../marketplace/transfer/createFileReceiver.ts";

export type ReceiveJobInputsParameters = {
  jobId: string;
  /** The job's work dir; made if missing. */
  workDir: string;
  /** The signed start's manifest (its total already checked against the node's limit). */
  inputs: readonly InputEntry[];
  /** How long to wait for each frame of the upload. */
  idleTimeoutMs?: number;
};

/**
 * The provider's side of the input transfer: asks for the inputs (`send-inputs`), then writes each
 * chunk straight into the work dir (never a whole file in memory, never through a symlink) and
 * checks every file's size and sha256 against the signed manifest when it is complete.
 * @throws TransferError with the first problem (`size-mismatch`, `sha256-mismatch`, `bad-path`,
 * `chunk-order`, `unexpected-frame`, `stream`, `cancelled`…); the caller refuses the job with it.
 */
export async function receiveJobInputs(channel: FrameChannel, p: ReceiveJobInputsParameters): Promise<void> {
  await mkdir(p.workDir, { recursive: true });
  const receiver = await createFileReceiver({
    root: await realpath(p.workDir),
    files: p.inputs,
    strict: true,
    what: "input",
  });
  const idleMs = p.idleTimeoutMs ?? JOB_TRANSFER_IDLE_TIMEOUT_MS;
  try {
    await channel.write({ type: "send-inputs", jobId: p.jobId });
    for (;;) {
      const frame = await channel
        .read(submitterFrame, { signal: AbortSignal.timeout(idleMs) })
        .catch((error: unknown) => {
          if (!(error instanceof FrameError)) throw error;
          const schema = error.shortMessage !== "Could not read a frame from the peer";
          throw new TransferError(
            schema ? "unexpected-frame" : "stream",
            `while receiving the inputs: ${error.shortMessage}${error.details === undefined ? "" : ` (${error.details.split("\n")[0]})`}`,
            { cause: error },
          );
        });
      if (frame.type === "inputs-done") {
        await receiver.finish();
        return;
      }
      if (frame.type === "input-chunk") await receiver.chunk(frame);
      else if (frame.type === "cancel")
        throw new TransferError("cancelled", `the submitter cancelled during the upload: ${frame.reason}`);
      else
        throw new TransferError("unexpected-frame", `a ${frame.type} frame during the upload of the inputs`);
    }
  } catch (error) {
    await receiver.abort();
    throw error;
  }
}
