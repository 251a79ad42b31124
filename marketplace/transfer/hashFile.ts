import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { JOB_CHUNK_BYTES } from "../p2p/constants.ts";

export type HashFileReturnType = { size: number; sha256: string };

/**
 * The SHA-256 and size of an open file, read from its start one chunk at a time (never the whole
 * file in memory). With `maxBytes`, stops there: the size and hash of the bytes that would be sent.
 */
export async function hashFile(
  handle: FileHandle,
  maxBytes = Number.MAX_SAFE_INTEGER,
): Promise<HashFileReturnType> {
  const hash = createHash("sha256");
  const buffer = Buffer.allocUnsafe(JOB_CHUNK_BYTES);
  let size = 0;
  while (size < maxBytes) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, maxBytes - size), size);
    if (bytesRead === 0) break;
    hash.update(buffer.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { size, sha256: hash.digest("hex") };
}
