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
  const lp = lpStream(stream, {
    maxDataLength: maxFrameBytes,
    maxBufferSize: Math.max(MIN_READ_BUFFER_BYTES, 2 * (maxFrameBytes + MAX_LENGTH_PREFIX_BYTES)),
  });
  const encoder = new TextEncoder();
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return {
    stream,
    async read(schema, options) {
      let bytes: Uint8Array;
      try {
        bytes = (await lp.read(options)).subarray();
      } catch (error) {
        throw new FrameError("Could not read a frame from the peer", {
          cause: error,
          details: (error as Error).message,
        });
      }
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
