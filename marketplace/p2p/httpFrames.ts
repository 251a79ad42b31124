import type { Stream } from "@libp2p/interface";
import { Uint8ArrayList } from "uint8arraylist";
import type { z } from "zod";
import { summarizeZodError } from "../messages/envelope.ts";
import type { HttpFrame } from "../messages/http.ts";
import { HTTP_MAX_CHUNK_BYTES, HTTP_MAX_FRAME_BYTES } from "./constants.ts";
import { FrameError } from "./frames.ts";

/**
 * The wire form of `/gridspot/http/1.0.0` frames: a varint length, then one type byte, then the
 * payload: JSON for heads and errors, the raw bytes for a body chunk, nothing for an end.
 *
 * Why not `frames.ts` (a JSON document per frame): a body there would travel as base64 inside JSON,
 * a third larger, copied and re-encoded on both sides and parsed as a long string: for a
 * token-by-token event stream that is most of the cost of a frame. Here a body chunk is its own
 * bytes behind a 2–4 byte header, and frames written in one turn of the event loop leave in one
 * stream write (one Yamux frame, one Noise message) instead of one each.
 */
const TYPE_BYTE = { "request-head": 1, "response-head": 2, body: 3, end: 4, error: 5 } as const;
const TYPE_NAME = ["", "request-head", "response-head", "body", "end", "error"] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Appends `frame` to `out` in its wire form; a body above HTTP_MAX_CHUNK_BYTES becomes several frames. */
export function encodeHttpFrame(frame: HttpFrame, out: Uint8ArrayList): void {
  if (frame.type === "body") {
    const { data } = frame;
    for (let offset = 0; offset < data.byteLength; offset += HTTP_MAX_CHUNK_BYTES) {
      const piece = data.subarray(offset, offset + HTTP_MAX_CHUNK_BYTES);
      out.append(header(TYPE_BYTE.body, piece.byteLength));
      out.append(piece);
    }
    return;
  }
  if (frame.type === "end") {
    out.append(header(TYPE_BYTE.end, 0));
    return;
  }
  const payload = encoder.encode(JSON.stringify(frame));
  if (payload.byteLength + 1 > HTTP_MAX_FRAME_BYTES) {
    throw new FrameError(`A ${frame.type} frame of ${payload.byteLength} bytes exceeds the limit`, {
      details: `at most ${HTTP_MAX_FRAME_BYTES - 1} bytes`,
    });
  }
  out.append(header(TYPE_BYTE[frame.type], payload.byteLength));
  out.append(payload);
}

function header(type: number, payloadBytes: number): Uint8Array {
  // An unsigned varint (at most 3 bytes below HTTP_MAX_FRAME_BYTES), then the type byte.
  const bytes: number[] = [];
  let length = payloadBytes + 1;
  while (length >= 0x80) {
    bytes.push((length & 0x7f) | 0x80);
    length >>>= 7;
  }
  bytes.push(length, type);
  return Uint8Array.from(bytes);
}

/**
 * A decoder of one direction's frames: feed it what the stream delivers, get back whole frames.
 * Heads and errors are checked against `schema` (`httpRequestFrame` or `httpResponseFrame`); a body
 * or an end is valid by construction (its size is bounded by the frame limit, checked on the length
 * prefix before anything is buffered).
 * @throws FrameError on a frame over the limit, an unknown type, bad JSON or a frame the schema refuses.
 */
export function createHttpFrameDecoder<T extends z.ZodTypeAny>(
  schema: T,
): (chunk: Uint8Array | Uint8ArrayList) => z.output<T>[] {
  /** Bytes of an incomplete frame, kept until the rest arrives (joined once, not per piece). */
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  /** Bytes the incomplete frame needs in all (prefix included), when its prefix is known. */
  let needed = 0;
  return (chunk) => {
    const piece = chunk instanceof Uint8Array ? chunk : chunk.subarray();
    let buf = piece;
    if (pending.length > 0) {
      pending.push(piece);
      pendingBytes += piece.byteLength;
      if (pendingBytes < needed) return [];
      buf = concat(pending, pendingBytes);
      pending.length = 0;
      pendingBytes = 0;
    }
    const frames: z.output<T>[] = [];
    let offset = 0;
    while (offset < buf.byteLength) {
      // The unsigned varint length: at most 3 bytes below HTTP_MAX_FRAME_BYTES.
      let length = 0;
      let at = offset;
      let complete = false;
      for (let shift = 0; at < buf.byteLength; shift += 7) {
        const byte = buf[at++] as number;
        length += (byte & 0x7f) * 2 ** shift;
        if (byte < 0x80) {
          complete = true;
          break;
        }
        if (shift >= 21) throw tooBig(">2 MiB");
      }
      if (complete && (length > HTTP_MAX_FRAME_BYTES || length === 0)) throw tooBig(String(length));
      if (!complete || at + length > buf.byteLength) {
        needed = complete ? at + length - offset : buf.byteLength - offset + 1;
        const rest = buf.subarray(offset);
        pending.push(rest);
        pendingBytes = rest.byteLength;
        break;
      }
      frames.push(parseFrame(schema, buf.subarray(at, at + length)));
      offset = at + length;
    }
    return frames;
  };
}

function tooBig(length: string): FrameError {
  return new FrameError("The peer sent a frame over the size limit", {
    details: `a frame of ${length} bytes; frames are 1 to ${HTTP_MAX_FRAME_BYTES} bytes`,
  });
}

function concat(pieces: readonly Uint8Array[], bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.byteLength;
  }
  return out;
}

function parseFrame<T extends z.ZodTypeAny>(schema: T, bytes: Uint8Array): z.output<T> {
  const type = TYPE_NAME[bytes[0] as number];
  if (type === undefined || type === "") {
    throw new FrameError(`The peer sent a frame of unknown type ${bytes[0]}`);
  }
  if (type === "body") {
    if (bytes.byteLength - 1 > HTTP_MAX_CHUNK_BYTES) throw tooBig(String(bytes.byteLength));
    return { type, data: bytes.subarray(1) } as z.output<T>;
  }
  if (type === "end") return END as z.output<T>;
  let value: unknown;
  try {
    value = { ...JSON.parse(decoder.decode(bytes.subarray(1))), type };
  } catch (error) {
    throw new FrameError(`The peer sent a ${type} frame that is not JSON`, { cause: error });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new FrameError(`The peer sent an invalid ${type} frame`, {
      details: summarizeZodError(parsed.error),
    });
  }
  return parsed.data;
}

const END = Object.freeze({ type: "end" as const });

/** Writes frames to a stream, batched. */
export type HttpFrameWriter = {
  /**
   * Queues a frame. Frames queued in one turn of the event loop leave together at its end (or at
   * once past 64 KiB). Returns false when the stream asks the sender to wait for `drained()`.
   */
  write(frame: HttpFrame): boolean;
  /** Sends what is queued now. */
  flush(): void;
  /** Resolves when the stream can take more (at once when it can now); rejects when it closes. */
  drained(): Promise<void>;
};

const FLUSH_AT_BYTES = 64 * 1024;

/** A batching frame writer for `stream`. A write to a closed stream is dropped (its close is seen by the reader). */
export function httpFrameWriter(stream: Stream): HttpFrameWriter {
  let pending = new Uint8ArrayList();
  let scheduled: NodeJS.Immediate | undefined;
  const flush = () => {
    if (scheduled !== undefined) clearImmediate(scheduled);
    scheduled = undefined;
    if (pending.byteLength === 0) return;
    const out = pending;
    pending = new Uint8ArrayList();
    if (stream.writeStatus !== "writable") return;
    try {
      stream.send(out);
    } catch {
      // The stream closed or reset meanwhile: its close event tells the exchange.
    }
  };
  return {
    write(frame) {
      encodeHttpFrame(frame, pending);
      if (pending.byteLength >= FLUSH_AT_BYTES) flush();
      else if (scheduled === undefined) scheduled = setImmediate(flush);
      return !stream.writableNeedsDrain;
    },
    flush,
    drained: () => stream.onDrain(),
  };
}
