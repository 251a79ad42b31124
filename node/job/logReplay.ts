import { JOB_LOG_REPLAY_BYTES, MAX_LOG_CHUNK_BYTES } from "../../marketplace/p2p/constants.ts";

export type LogStreamName = "stdout" | "stderr";

/** A `log` frame as the provider sends it: `offset` is the bytes of its stream before `data`. */
export type LogFrame = { type: "log"; stream: LogStreamName; data: string; offset: number };

export type LogReplayInit = {
  /** Bytes of each stream kept for a payer that attaches again (JOB_LOG_REPLAY_BYTES). */
  keepBytes?: number;
};

/**
 * A job's two log streams as the payer receives them: each chunk the job writes is numbered by its
 * offset in its stream and cut into frames of at most MAX_LOG_CHUNK_BYTES, and the last `keepBytes`
 * of each stream stay in memory, so a payer whose agent restarted gets what it missed after the
 * offsets it holds, and is told how many bytes in between are no longer kept.
 */
export function createLogReplay(init: LogReplayInit = {}) {
  const keepBytes = init.keepBytes ?? JOB_LOG_REPLAY_BYTES;
  const streams = { stdout: createTail(keepBytes), stderr: createTail(keepBytes) };
  return {
    /** Keeps `chunk` and returns its frames for the live stream, with each frame's payload bytes. */
    append(stream: LogStreamName, chunk: Buffer): { frame: LogFrame; bytes: number }[] {
      const offset = streams[stream].append(chunk);
      return framesOf(stream, offset, chunk);
    },
    /**
     * What a payer holding `offset` bytes of `stream` has not seen: the kept bytes after its offset,
     * as frames, and `gap`, the bytes after its offset that are no longer kept.
     */
    replay(stream: LogStreamName, offset: number): { frames: LogFrame[]; gap: number } {
      const after = streams[stream].after(offset);
      return { frames: framesOf(stream, after.offset, after.bytes).map((f) => f.frame), gap: after.gap };
    },
  };
}

export type LogReplay = ReturnType<typeof createLogReplay>;

function framesOf(stream: LogStreamName, offset: number, bytes: Buffer) {
  const frames: { frame: LogFrame; bytes: number }[] = [];
  for (let i = 0; i < bytes.length; i += MAX_LOG_CHUNK_BYTES) {
    const part = bytes.subarray(i, i + MAX_LOG_CHUNK_BYTES);
    frames.push({
      frame: { type: "log", stream, data: part.toString("base64"), offset: offset + i },
      bytes: part.length,
    });
  }
  return frames;
}

/** The last `keepBytes` of one stream, and how many bytes the stream has had in all. */
function createTail(keepBytes: number) {
  const chunks: Buffer[] = [];
  let kept = 0;
  let end = 0;
  return {
    /** Returns the chunk's offset in the stream. */
    append(chunk: Buffer): number {
      const offset = end;
      end += chunk.length;
      // A copy: a runtime may hand over a view of a buffer it reuses.
      chunks.push(Buffer.from(chunk));
      kept += chunk.length;
      while (kept > keepBytes) {
        const first = chunks[0] as Buffer;
        const excess = kept - keepBytes;
        if (first.length <= excess) {
          chunks.shift();
          kept -= first.length;
        } else {
          chunks[0] = first.subarray(excess);
          kept -= excess;
        }
      }
      return offset;
    },
    after(offset: number): { offset: number; bytes: Buffer; gap: number } {
      const start = end - kept;
      const from = Math.min(Math.max(offset, start), end);
      const bytes = from === end ? Buffer.alloc(0) : Buffer.concat(chunks).subarray(from - start);
      return { offset: from, bytes, gap: Math.max(0, start - offset) };
    },
  };
}
