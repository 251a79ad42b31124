import type { FileHandle } from "node:fs/promises";
import { JOB_CHUNK_BYTES } from "../p2p/constants.ts";
import type { FrameChannel } from "../p2p/frames.ts";

/** How far a transfer has come: the file being sent or received, and the bytes of all of them. */
export type TransferProgress = {
  path: string;
  fileBytes: number;
  fileSize: number;
  bytes: number;
  totalBytes: number;
};

/** A file to send: its manifest entry's path and size, and how to open it for reading. */
export type FileToSend = {
  path: string;
  size: number;
  /** The file open for reading; undefined when it can no longer be read (it is sent as zeros). */
  open(): Promise<FileHandle | undefined>;
};

export type SendFilesParameters = {
  files: readonly FileToSend[];
  /** The frame types of this direction. */
  frames: { chunk: "input-chunk" | "output-chunk"; done: "inputs-done" | "outputs-done" };
  onProgress?: ((progress: TransferProgress) => void) | undefined;
  signal?: AbortSignal | undefined;
};

/**
 * Sends files in manifest order as chunk frames of at most JOB_CHUNK_BYTES, read from disk one
 * chunk at a time, then the done frame. Each write is awaited, so a slow receiver holds the sender
 * back (libp2p back-pressure) and only one chunk is in memory here. A file that shrank or vanished
 * since its manifest entry was made is padded with zeros to its size: the receiver finds its sha256
 * wrong and says so, and the files after it still arrive. Returns the file bytes sent.
 */
export async function sendFiles(channel: FrameChannel, p: SendFilesParameters): Promise<number> {
  const totalBytes = p.files.reduce((sum, f) => sum + f.size, 0);
  const buffer = Buffer.allocUnsafe(JOB_CHUNK_BYTES);
  const options = p.signal === undefined ? {} : { signal: p.signal };
  let bytes = 0;
  for (const [index, file] of p.files.entries()) {
    const handle = file.size === 0 ? undefined : await file.open();
    try {
      let offset = 0;
      while (offset < file.size) {
        const want = Math.min(buffer.length, file.size - offset);
        let got = 0;
        while (handle !== undefined && got < want) {
          const { bytesRead } = await handle.read(buffer, got, want - got, offset + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        buffer.fill(0, got, want);
        p.signal?.throwIfAborted();
        const data = buffer.subarray(0, want).toString("base64");
        await channel.write({ type: p.frames.chunk, index, offset, data }, options);
        offset += want;
        bytes += want;
        p.onProgress?.({ path: file.path, fileBytes: offset, fileSize: file.size, bytes, totalBytes });
      }
      if (file.size === 0) p.onProgress?.({ path: file.path, fileBytes: 0, fileSize: 0, bytes, totalBytes });
    } finally {
      await handle?.close();
    }
  }
  await channel.write({ type: p.frames.done }, options);
  return bytes;
}
