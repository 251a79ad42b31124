import { describe, expect, it } from "vitest";
import { MAX_LOG_CHUNK_BYTES } from "../../../marketplace/p2p/constants.ts";
import { createLogReplay, type LogFrame } from "../../../node/job/logReplay.ts";

const bytesOf = (frames: LogFrame[]) => Buffer.concat(frames.map((f) => Buffer.from(f.data, "base64")));

describe("createLogReplay", () => {
  it("numbers each chunk by its offset in its own stream and cuts it into MAX_LOG_CHUNK_BYTES frames", () => {
    const logs = createLogReplay();
    const big = Buffer.alloc(2 * MAX_LOG_CHUNK_BYTES + 5, 7);
    expect(logs.append("stdout", Buffer.from("hello\n")).map((f) => f.frame.offset)).toEqual([0]);
    expect(logs.append("stderr", Buffer.from("oops\n")).map((f) => f.frame.offset)).toEqual([0]);
    const parts = logs.append("stdout", big);
    expect(parts.map((p) => [p.frame.offset, p.bytes])).toEqual([
      [6, MAX_LOG_CHUNK_BYTES],
      [6 + MAX_LOG_CHUNK_BYTES, MAX_LOG_CHUNK_BYTES],
      [6 + 2 * MAX_LOG_CHUNK_BYTES, 5],
    ]);
    expect(bytesOf(parts.map((p) => p.frame))).toEqual(big);
  });

  it("replays what the payer lacks after its offset, and nothing it holds", () => {
    const logs = createLogReplay();
    logs.append("stdout", Buffer.from("abc"));
    logs.append("stdout", Buffer.from("defg"));
    const replay = logs.replay("stdout", 2);
    expect(replay.gap).toBe(0);
    expect(replay.frames.map((f) => f.offset)).toEqual([2]);
    expect(bytesOf(replay.frames).toString()).toBe("cdefg");
    expect(logs.replay("stdout", 7)).toEqual({ frames: [], gap: 0 });
    // An offset past what the job wrote (a confused payer) gets nothing, not an error.
    expect(logs.replay("stdout", 100)).toEqual({ frames: [], gap: 0 });
    expect(logs.replay("stderr", 0)).toEqual({ frames: [], gap: 0 });
  });

  it("keeps only the last keepBytes of each stream and names the bytes it no longer has", () => {
    const logs = createLogReplay({ keepBytes: 5 });
    logs.append("stdout", Buffer.from("0123"));
    logs.append("stdout", Buffer.from("456"));
    logs.append("stdout", Buffer.from("78"));
    const replay = logs.replay("stdout", 1);
    expect(replay.gap).toBe(3);
    expect(replay.frames.map((f) => f.offset)).toEqual([4]);
    expect(bytesOf(replay.frames).toString()).toBe("45678");
    const within = logs.replay("stdout", 6);
    expect(within.gap).toBe(0);
    expect(bytesOf(within.frames).toString()).toBe("678");
  });

  it("keeps a copy: a runtime reusing its buffer does not change what is replayed", () => {
    const logs = createLogReplay();
    const chunk = Buffer.from("first");
    logs.append("stdout", chunk);
    chunk.write("XXXXX");
    expect(bytesOf(logs.replay("stdout", 0).frames).toString()).toBe("first");
  });
});
