import { Uint8ArrayList } from "uint8arraylist";
import { describe, expect, it } from "vitest";
import { type HttpFrame, httpRequestFrame, httpResponseFrame } from "../../../marketplace/messages/http.ts";
import { HTTP_MAX_CHUNK_BYTES, HTTP_MAX_FRAME_BYTES } from "../../../marketplace/p2p/constants.ts";
import { FrameError } from "../../../marketplace/p2p/frames.ts";
import { createHttpFrameDecoder, encodeHttpFrame } from "../../../marketplace/p2p/httpFrames.ts";

function encode(...frames: HttpFrame[]): Uint8Array {
  const out = new Uint8ArrayList();
  for (const frame of frames) encodeHttpFrame(frame, out);
  return out.subarray();
}

const head: HttpFrame = {
  type: "request-head",
  endpoint: "ep-1",
  method: "POST",
  path: "/v1/chat/completions?x=1",
  headers: ["content-type", "application/json", "set-cookie", "a", "set-cookie", "b"],
};

describe("http frames", () => {
  it("round-trips every frame, whatever the chunking of the bytes", () => {
    const body = new Uint8Array(100).map((_, i) => i);
    const wire = encode(head, { type: "body", data: body }, { type: "end" });
    for (const step of [1, 3, 17, wire.byteLength]) {
      const decode = createHttpFrameDecoder(httpRequestFrame);
      const frames = [];
      for (let i = 0; i < wire.byteLength; i += step) frames.push(...decode(wire.subarray(i, i + step)));
      expect(frames).toEqual([head, { type: "body", data: body }, { type: "end" }]);
    }
  });

  it("splits a big body into chunks of HTTP_MAX_CHUNK_BYTES, raw bytes behind a small header", () => {
    const body = new Uint8Array(HTTP_MAX_CHUNK_BYTES * 2 + 5).fill(7);
    const wire = encode({ type: "body", data: body });
    expect(wire.byteLength).toBeLessThan(body.byteLength + 16);
    const frames = createHttpFrameDecoder(httpResponseFrame)(wire);
    expect(frames.map((f) => (f.type === "body" ? f.data.byteLength : -1))).toEqual([
      HTTP_MAX_CHUNK_BYTES,
      HTTP_MAX_CHUNK_BYTES,
      5,
    ]);
  });

  it("carries the response head and an error with its status and words", () => {
    const frames: HttpFrame[] = [
      { type: "response-head", status: 201, headers: ["x-a", "1"] },
      {
        type: "error",
        status: 503,
        code: "cold-start-timeout",
        message: "no replica became ready within 2 s",
      },
    ];
    expect(createHttpFrameDecoder(httpResponseFrame)(encode(...frames))).toEqual(frames);
  });

  it("refuses a frame over the limit before buffering it", () => {
    const prefix = new Uint8Array([0xff, 0xff, 0x7f]); // a varint far above HTTP_MAX_FRAME_BYTES
    expect(HTTP_MAX_FRAME_BYTES).toBeLessThan(0x1fffff);
    expect(() => createHttpFrameDecoder(httpRequestFrame)(prefix)).toThrow(FrameError);
  });

  it("refuses unknown types, bad JSON, a frame of the other direction and bad headers", () => {
    const decode = () => createHttpFrameDecoder(httpRequestFrame);
    expect(() => decode()(new Uint8Array([1, 9]))).toThrow(/unknown type/);
    expect(() => decode()(new Uint8Array([3, 1, 0x7b, 0x7b]))).toThrow(/not JSON/);
    expect(() => decode()(encode({ type: "response-head", status: 200, headers: [] }))).toThrow(FrameError);
    expect(() => decode()(encode({ ...head, headers: ["x-a", "1\r\nx-b: 2"] } as HttpFrame))).toThrow(
      /invalid/,
    );
    expect(() => decode()(encode({ ...head, headers: ["x-a"] } as HttpFrame))).toThrow(/invalid/);
    expect(() => decode()(encode({ ...head, path: "no-slash" } as HttpFrame))).toThrow(/invalid/);
  });

  it("refuses a head too big to send", () => {
    const huge = { ...head, headers: ["x-big", "a".repeat(HTTP_MAX_FRAME_BYTES)] } as HttpFrame;
    expect(() => encode(huge)).toThrow(FrameError);
  });
});
