import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { lpStream } from "@libp2p/utils";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { uint } from "../../../marketplace/messages/primitives.ts";
import { JOB_CHUNK_BYTES, MAX_JOB_FRAME_BYTES } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { type FrameChannel, FrameError, frameChannel } from "../../../marketplace/p2p/frames.ts";

const PROTOCOL = "/gridspot/test-frames/1.0.0";

let dialer: GridspotHost;
let listener: GridspotHost;
const incoming: Stream[] = [];
const waiting: ((stream: Stream) => void)[] = [];

beforeAll(async () => {
  const listen = ["/ip4/127.0.0.1/tcp/0"];
  listener = await createHost({ privateKey: await generateKeyPair("Ed25519"), listen, localNetwork: true });
  dialer = await createHost({ privateKey: await generateKeyPair("Ed25519"), listen, localNetwork: true });
  await listener.handle(PROTOCOL, (stream) => {
    const next = waiting.shift();
    if (next === undefined) incoming.push(stream);
    else next(stream);
  });
});

afterAll(async () => {
  await dialer?.stop();
  await listener?.stop();
});

function accepted(): Promise<Stream> {
  const ready = incoming.shift();
  if (ready !== undefined) return Promise.resolve(ready);
  return new Promise((resolve) => waiting.push(resolve));
}

/** A fresh stream from the dialer to the listener: [dialer's end, listener's end]. */
async function pair(): Promise<[Stream, Stream]> {
  const signal = AbortSignal.timeout(10_000);
  const outbound = await dialer.dialProtocol(listener.getMultiaddrs(), PROTOCOL, { signal });
  return [outbound, await accepted()];
}

async function channels(maxOut: number, maxIn: number): Promise<[FrameChannel, FrameChannel]> {
  const [out, inc] = await pair();
  return [frameChannel(out, maxOut), frameChannel(inc, maxIn)];
}

const ping = z.object({ type: z.literal("ping"), seq: z.number().int(), amount: uint });
const pong = z.object({ type: z.literal("pong"), seq: z.number().int(), text: z.string() });

async function rejection(promise: Promise<unknown>): Promise<FrameError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(FrameError);
  return error as FrameError;
}

describe("frameChannel over a libp2p stream", () => {
  it("carries JSON frames both ways, in order, bigints as exact strings", async () => {
    const [a, b] = await channels(1024, 1024);
    const big = 2n ** 200n + 7n;
    for (let seq = 0; seq < 5; seq++) await a.write({ type: "ping", seq, amount: big + BigInt(seq) });
    for (let seq = 0; seq < 5; seq++) {
      expect(await b.read(ping)).toEqual({ type: "ping", seq, amount: big + BigInt(seq) });
      await b.write({ type: "pong", seq, text: "ünïcødé ✓" });
    }
    for (let seq = 0; seq < 5; seq++)
      expect(await a.read(pong)).toEqual({ type: "pong", seq, text: "ünïcødé ✓" });
    await a.close();
    await b.close();
  });

  it("refuses to write a frame above the limit, and the stream stays usable", async () => {
    const [a, b] = await channels(64, 1024);
    const error = await rejection(a.write({ type: "pong", seq: 1, text: "x".repeat(64) }));
    expect(error.shortMessage).toMatch(/^Frame of \d+ bytes exceeds the 64-byte limit$/);
    await a.write({ type: "pong", seq: 2, text: "ok" });
    expect(await b.read(pong)).toEqual({ type: "pong", seq: 2, text: "ok" });
    await a.close();
  });

  it("counts the limit in bytes, not characters", async () => {
    const [a] = await channels(40, 1024);
    // 27 bytes of envelope + 8 characters that take 2 bytes each in UTF-8.
    await rejection(a.write({ type: "pong", text: "éééééééé" }));
    await a.write({ type: "pong", text: "eeeeeeee" });
    await a.close();
  });

  it("refuses to read a frame above the reader's limit", async () => {
    const [a, b] = await channels(4096, 100);
    await a.write({ type: "pong", seq: 1, text: "x".repeat(500) });
    const error = await rejection(b.read(pong));
    expect(error.shortMessage).toBe("Could not read a frame from the peer");
    expect(error.details).toMatch(/too long/);
    b.abort(new Error("done"));
  });

  it("reads a frame near the job protocol's limit (a large manifest: 8 MiB, base64)", async () => {
    const [a, b] = await channels(MAX_JOB_FRAME_BYTES, MAX_JOB_FRAME_BYTES);
    const data = Buffer.alloc(8 * 1024 * 1024, 7).toString("base64");
    const frame = z.object({ type: z.literal("start"), data: z.string() });
    const [read] = await Promise.all([b.read(frame), a.write({ type: "start", data })]);
    expect(read.data.length).toBe(data.length);
    await a.close();
  });

  it("holds a fast writer back while the reader is slow, instead of buffering everything or failing", async () => {
    const [a, b] = await channels(MAX_JOB_FRAME_BYTES, MAX_JOB_FRAME_BYTES);
    const chunk = z.object({ type: z.literal("chunk"), seq: z.number().int(), data: z.string() });
    const data = Buffer.alloc(JOB_CHUNK_BYTES, 3).toString("base64");
    const frames = 64; // 85 MiB of base64: past what the reader may buffer (32 MiB) without a pause
    let written = 0;
    let ahead = 0;
    const writing = (async () => {
      for (let seq = 0; seq < frames; seq++) {
        await a.write({ type: "chunk", seq, data });
        written += 1;
      }
    })();
    for (let seq = 0; seq < frames; seq++) {
      const frame = await b.read(chunk, { signal: AbortSignal.timeout(10_000) });
      expect(frame.seq).toBe(seq);
      ahead = Math.max(ahead, written - seq);
      if (seq < 16) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await writing;
    // The writer ran ahead only by what the read-ahead (4 MiB) and Yamux's window (16 MiB, both
    // delivered on resume and credited again) hold: about 40 MiB of base64, 30 frames.
    expect(ahead).toBeLessThanOrEqual(32);
    await a.close();
  });

  it("refuses a frame that is not JSON, or not UTF-8", async () => {
    for (const body of [new TextEncoder().encode("{not json"), new Uint8Array([0x22, 0xff, 0xfe, 0x22])]) {
      const [out, inc] = await pair();
      await lpStream(out).write(body);
      const error = await rejection(frameChannel(inc, 1024).read(pong));
      expect(error.shortMessage).toBe("The peer sent a frame that is not JSON");
      out.abort(new Error("done"));
    }
  });

  it("refuses a JSON frame that fails the schema, naming the field", async () => {
    const [a, b] = await channels(1024, 1024);
    await a.write({ type: "pong", seq: "one", text: "x" });
    const error = await rejection(b.read(pong));
    expect(error.shortMessage).toBe("The peer sent an invalid frame");
    expect(error.details).toMatch(/^seq: /);
    await a.close();
  });

  it("fails a read when the peer closes without sending", async () => {
    const [a, b] = await channels(1024, 1024);
    await a.close();
    const error = await rejection(b.read(pong, { signal: AbortSignal.timeout(5_000) }));
    expect(error.shortMessage).toBe("Could not read a frame from the peer");
  });
});
