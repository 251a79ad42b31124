import type { AbortOptions, Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import type { z } from "zod";
import { BaseError } from "../errors/base.ts";
import { summarizeZodError } from "../messages/envelope.ts";
import { toJson } from "../messages/json.ts";

/** lpStream's own default read buffer: kept as the floor so small-frame protocols buffer as before. */
const MIN_READ_BUFFER_BYTES = 4 * 1024 * 1024;
/** A varint length prefix of a frame below 2^53 bytes. */
const MAX_LENGTH_PREFIX_BYTES = 8;
/**
 * Bytes that may arrive ahead of the reader: beyond it the stream is paused, Yamux stops crediting
 * the sender, and the sender's awaited writes wait. A slow reader (a disk, a busy node) thus holds
 * back a fast sender instead of buffering the whole transfer, or overflowing and losing the stream.
 */
const READ_AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * What a paused stream may still receive, and what arrives at once when it resumes: the sender's
 * remaining credit, at most Yamux's largest stream window (16 MiB), with room to spare.
 */
const PAUSED_READ_BUFFER_BYTES = 24 * 1024 * 1024;

export class FrameError extends BaseError {
  override name = "FrameError";
}

export type FrameChannel = {
  /** Reads one frame and validates it; throws FrameError on bad JSON or schema, or a closed stream. */
  read<T extends z.ZodTypeAny>(schema: T, options?: AbortOptions): Promise<z.output<T>>;
  write(frame: unknown, options?: AbortOptions): Promise<void>;
  close(): Promise<void>;
  abort(error: Error): void;
  stream: Stream;
};

/**
 * JSON frames over a libp2p stream, each length-prefixed (varint) and at most `maxFrameBytes`:
 * an oversized frame fails the read before its body is buffered.
 */
export function frameChannel(stream: Stream, maxFrameBytes: number): FrameChannel {
  // lpStream buffers what arrives before it is read, 4 MiB by default: room for two whole frames,
  // or a frame above 4 MiB (the job stream allows 16) would overflow the buffer and abort the stream.
  // The read buffer's limit also covers a frame being read plus what a resumed stream delivers.
  const lp = lpStream(stream, {
    maxDataLength: maxFrameBytes,
    maxBufferSize: Math.max(
      MIN_READ_BUFFER_BYTES,
      2 * (maxFrameBytes + MAX_LENGTH_PREFIX_BYTES),
      maxFrameBytes + MAX_LENGTH_PREFIX_BYTES + PAUSED_READ_BUFFER_BYTES,
    ),
  });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  // Read-side back-pressure: count what arrived and was not read yet, and pause the stream above
  // READ_AHEAD_BYTES. It resumes when it runs low, or when a read needs more than has arrived (a
  // read whose frame is complete settles within microtasks, so one still pending at the next
  // setImmediate is waiting for data): a pause never starves the frame being read.
  let unread = 0;
  let waitingForData = false;
  const resume = () => {
    if (stream.readStatus === "paused") stream.resume();
  };
  const pauseIfFull = () => {
    if (waitingForData || unread <= READ_AHEAD_BYTES || stream.readStatus !== "readable") return;
    stream.maxReadBufferLength = Math.max(stream.maxReadBufferLength, PAUSED_READ_BUFFER_BYTES);
    stream.pause();
  };
  stream.addEventListener("message", (event) => {
    unread += event.data.byteLength;
    // Not from inside the dispatch: a message can come from resume(), which credits the sender
    // after dispatching and would undo a pause made here.
    queueMicrotask(pauseIfFull);
  });
  return {
    stream,
    async read(schema, options) {
      let bytes: Uint8Array;
      let settled = false;
      if (unread <= READ_AHEAD_BYTES) resume();
      const check = setImmediate(() => {
        if (settled) return;
        waitingForData = true;
        resume();
      });
      try {
        bytes = (await lp.read(options)).subarray();
      } catch (error) {
        throw new FrameError("Could not read a frame from the peer", {
          cause: error,
          details: (error as Error).message,
        });
      } finally {
        settled = true;
        waitingForData = false;
        clearImmediate(check);
      }
      unread -= bytes.byteLength + varintLength(bytes.byteLength);
      pauseIfFull();
      let json: unknown;
      try {
        json = JSON.parse(decoder.decode(bytes));
      } catch (error) {
        throw new FrameError("The peer sent a frame that is not JSON", { cause: error });
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        throw new FrameError("The peer sent an invalid frame", { details: summarizeZodError(parsed.error) });
      }
      return parsed.data;
    },
    async write(frame, options) {
      const bytes = encoder.encode(toJson(frame));
      if (bytes.byteLength > maxFrameBytes) {
        throw new FrameError(`Frame of ${bytes.byteLength} bytes exceeds the ${maxFrameBytes}-byte limit`);
      }
      await lp.write(bytes, options);
    },
    async close() {
      await stream.close().catch(() => {});
    },
    abort(error) {
      stream.abort(error);
    },
  };
}

/** Bytes of the unsigned varint that prefixes a frame of `n` bytes. */
function varintLength(n: number): number {
  let length = 1;
  for (let v = n; v >= 0x80; v = Math.floor(v / 128)) length += 1;
  return length;
}
