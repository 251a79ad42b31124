// The job stream's file transfer on real parts: two libp2p hosts over 127.0.0.1, files on disk,
// `localInputManifest` → `sendFiles` on one side, `createFileReceiver` on the other.
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { TransferError } from "../../../marketplace/errors/transfer.ts";
import { outputChunkFrame, outputsDoneFrame } from "../../../marketplace/messages/job.ts";
import { JOB_CHUNK_BYTES, MAX_JOB_FRAME_BYTES } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { type FrameChannel, frameChannel } from "../../../marketplace/p2p/frames.ts";
import {
  createFileReceiver,
  type FileToReceive,
  type ReceivedFiles,
} from "../../../marketplace/transfer/createFileReceiver.ts";
import { localInputManifest } from "../../../marketplace/transfer/localInputManifest.ts";
import { sendFiles } from "../../../marketplace/transfer/sendFiles.ts";

const PROTOCOL = "/gridspot/test-transfer/1.0.0";
const transferFrame = z.discriminatedUnion("type", [outputChunkFrame, outputsDoneFrame]);
const frames = { chunk: "output-chunk", done: "outputs-done" } as const;

let dialer: GridspotHost;
let listener: GridspotHost;
let root: string;
const waiting: ((stream: Stream) => void)[] = [];

beforeAll(async () => {
  const listen = ["/ip4/127.0.0.1/tcp/0"];
  listener = await createHost({ privateKey: await generateKeyPair("Ed25519"), listen, localNetwork: true });
  dialer = await createHost({ privateKey: await generateKeyPair("Ed25519"), listen, localNetwork: true });
  await listener.handle(PROTOCOL, (stream) => waiting.shift()?.(stream));
  root = mkdtempSync(join(tmpdir(), "gridspot-transfer-"));
});
afterAll(async () => {
  await dialer?.stop();
  await listener?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** A fresh stream: [sender's channel, receiver's channel]. */
async function channels(): Promise<[FrameChannel, FrameChannel]> {
  const accepted = new Promise<Stream>((resolve) => waiting.push(resolve));
  const out = await dialer.dialProtocol(listener.getMultiaddrs(), PROTOCOL, {
    signal: AbortSignal.timeout(10_000),
  });
  return [frameChannel(out, MAX_JOB_FRAME_BYTES), frameChannel(await accepted, MAX_JOB_FRAME_BYTES)];
}

/** Reads chunk frames into `receiver` until the done frame. */
async function receive(
  channel: FrameChannel,
  receiver: Awaited<ReturnType<typeof createFileReceiver>>,
): Promise<ReceivedFiles> {
  for (;;) {
    const frame = await channel.read(transferFrame, { signal: AbortSignal.timeout(20_000) });
    if (frame.type === "outputs-done") return receiver.finish();
    await receiver.chunk(frame);
  }
}

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
let n = 0;
const folder = (name: string) => {
  const dir = join(root, `${name}-${n++}`);
  mkdirSync(dir, { recursive: true });
  return dir;
};
const openRead = (path: string) => async () => open(path, "r");

describe("file transfer over a libp2p stream", () => {
  it("round-trips nested folders: relative paths, empty files, the executable bit; symlinks inside are skipped and named", async () => {
    const src = folder("src");
    const data = join(src, "data");
    mkdirSync(join(data, "sub", "deeper"), { recursive: true });
    writeFileSync(join(data, "a.txt"), "alpha");
    const big = randomBytes(3 * JOB_CHUNK_BYTES + 17);
    writeFileSync(join(data, "sub", "b.bin"), big);
    writeFileSync(join(data, "sub", "deeper", "c.json"), '{"c":1}');
    writeFileSync(join(data, "empty.txt"), "");
    writeFileSync(join(data, "run.sh"), "#!/bin/sh\necho hi\n");
    chmodSync(join(data, "run.sh"), 0o755);
    symlinkSync("/etc/passwd", join(data, "passwd-link"));
    writeFileSync(join(src, "top.txt"), "top");

    const manifest = await localInputManifest([data, join(src, "top.txt")]);
    expect(manifest.files.map((f) => [f.path, f.size, f.executable ?? false])).toEqual([
      ["data/a.txt", 5, false],
      ["data/empty.txt", 0, false],
      ["data/run.sh", 18, true],
      ["data/sub/b.bin", big.length, false],
      ["data/sub/deeper/c.json", 7, false],
      ["top.txt", 3, false],
    ]);
    expect(manifest.files.find((f) => f.path === "data/sub/b.bin")?.sha256).toBe(sha(big));
    expect(manifest.skipped).toEqual([{ source: join(data, "passwd-link"), reason: "a symlink" }]);

    const dest = folder("dest");
    const [a, b] = await channels();
    const receiver = await createFileReceiver({
      root: dest,
      files: manifest.files,
      strict: true,
      what: "input",
    });
    const progress: number[] = [];
    const [sent, received] = await Promise.all([
      sendFiles(a, {
        files: manifest.files.map((f) => ({ path: f.path, size: f.size, open: openRead(f.source) })),
        frames,
        onProgress: (p) => progress.push(p.bytes),
      }),
      receive(b, receiver),
    ]);
    expect(sent).toBe(manifest.totalBytes);
    expect(progress.at(-1)).toBe(manifest.totalBytes);
    expect(received.failed).toEqual([]);
    expect(received.files.map((f) => f.path)).toEqual(manifest.files.map((f) => f.path));
    for (const file of manifest.files) expect(sha(readFileSync(join(dest, file.path)))).toBe(file.sha256);
    expect(statSync(join(dest, "data/run.sh")).mode & 0o777).toBe(0o755);
    expect(statSync(join(dest, "data/a.txt")).mode & 0o777).toBe(0o644);
    expect(existsSync(join(dest, "data/passwd-link"))).toBe(false);
    await a.close();
  });

  it("moves a 64 MiB file from disk to disk without holding it in memory", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const src = folder("big-src");
    const size = 64 * 1024 * 1024;
    const hash = createHash("sha256");
    const file = await open(join(src, "big.bin"), "w");
    for (let offset = 0; offset < size; offset += JOB_CHUNK_BYTES) {
      const piece = randomBytes(JOB_CHUNK_BYTES);
      hash.update(piece);
      await file.write(piece);
    }
    await file.close();
    const digest = hash.digest("hex");

    const live = () => {
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const baseline = live();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, live() - baseline);
    }, 100);

    const dest = folder("big-dest");
    const [a, b] = await channels();
    const files = [{ path: "big.bin", size, sha256: digest }];
    const receiver = await createFileReceiver({ root: dest, files, strict: true, what: "input" });
    try {
      await Promise.all([
        sendFiles(a, { files: [{ path: "big.bin", size, open: openRead(join(src, "big.bin")) }], frames }),
        receive(b, receiver),
      ]);
    } finally {
      clearInterval(sampler);
    }
    const check = createHash("sha256");
    const copy = await open(join(dest, "big.bin"), "r");
    for await (const piece of copy.createReadStream()) check.update(piece as Buffer);
    expect(check.digest("hex")).toBe(digest);
    expect(statSync(join(dest, "big.bin")).size).toBe(size);
    // Both ends run in this process: what either holds at once is a few chunks and the stream's
    // buffers (read-ahead and Yamux's window), far below the file.
    // A copy of the whole file, even once, would pass 64 MiB (its base64 frames more). Under load
    // the writes to disk lag and more of the window waits in memory: up to 54 MiB was seen.
    expect(peak).toBeLessThan(size);
    await a.close();
  });

  it("strict (inputs): refuses more bytes than the manifest, a wrong sha256, a short file or a chunk out of order", async () => {
    const content = Buffer.from("hello");
    const entry = { path: "in/x.txt", size: 5, sha256: sha(content) };
    const chunk = (index: number, offset: number, data: Buffer) => ({
      type: "output-chunk",
      index,
      offset,
      data: data.toString("base64"),
    });
    const cases: [string, FileToReceive[], object[]][] = [
      ["size-mismatch", [entry], [chunk(0, 0, Buffer.from("hello!"))]],
      ["sha256-mismatch", [entry], [chunk(0, 0, Buffer.from("HELLO")), { type: "outputs-done" }]],
      ["size-mismatch", [entry], [chunk(0, 0, Buffer.from("hel")), { type: "outputs-done" }]],
      ["chunk-order", [entry], [chunk(0, 1, Buffer.from("ello"))]],
      ["chunk-order", [entry], [chunk(3, 0, content)]],
      ["bad-path", [{ ...entry, path: "../x.txt" }], []],
    ];
    for (const [code, files, sent] of cases) {
      const dest = folder("strict");
      const error = await (async () => {
        const receiver = await createFileReceiver({ root: dest, files, strict: true, what: "input" });
        const [a, b] = await channels();
        for (const frame of sent) await a.write(frame);
        await a.write({ type: "outputs-done" });
        try {
          await receive(b, receiver);
        } finally {
          await receiver.abort();
          await a.close();
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, code).toBeInstanceOf(TransferError);
      expect((error as TransferError).code, (error as Error).message).toBe(code);
      // Nothing half-written is left behind.
      expect(readdirSync(dest, { recursive: true }).filter((p) => String(p).endsWith(".txt"))).toEqual([]);
    }
  });

  it("outputs: a path leaving the folder, one through a symlink, or bytes that do not match are dropped and named; the rest arrive", async () => {
    const src = folder("out-src");
    const names = ["escape.txt", "ok-a.txt", "bad.txt", "linked.txt", "ok-b.txt"];
    for (const name of names) writeFileSync(join(src, name), `content of ${name}`);
    const dest = folder("out-dest");
    const outside = folder("outside");
    symlinkSync(outside, join(dest, "linkdir"));
    const entry = (name: string, path = name, digest = sha(`content of ${name}`)) => ({
      path,
      size: `content of ${name}`.length,
      sha256: digest,
      source: join(src, name),
    });
    const files = [
      entry("escape.txt", "../escape.txt"),
      entry("ok-a.txt", "results/a/ok-a.txt"),
      entry("bad.txt", "results/bad.txt", sha("something else")),
      entry("linked.txt", "linkdir/linked.txt"),
      entry("ok-b.txt", "results/ok-b.txt"),
    ];
    const [a, b] = await channels();
    const receiver = await createFileReceiver({ root: dest, files, strict: false, what: "output" });
    const [, received] = await Promise.all([
      sendFiles(a, { files: files.map((f) => ({ ...f, open: openRead(f.source) })), frames }),
      receive(b, receiver),
    ]);
    expect(received.files.map((f) => [f.path, f.target])).toEqual([
      ["results/a/ok-a.txt", join(dest, "results/a/ok-a.txt")],
      ["results/ok-b.txt", join(dest, "results/ok-b.txt")],
    ]);
    expect(readFileSync(join(dest, "results/a/ok-a.txt"), "utf8")).toBe("content of ok-a.txt");
    expect(received.failed.map((f) => [f.path, f.reason])).toEqual([
      ["../escape.txt", "bad-path"],
      ["results/bad.txt", "sha256-mismatch"],
      ["linkdir/linked.txt", "bad-path"],
    ]);
    expect(existsSync(join(dest, "results/bad.txt"))).toBe(false);
    expect(existsSync(join(root, "escape.txt"))).toBe(false);
    expect(readdirSync(outside)).toEqual([]);
    await a.close();
  });

  it("refuses two inputs that would land on one path, and names an unreadable one", async () => {
    const one = folder("dup");
    const two = folder("dup");
    writeFileSync(join(one, "same.txt"), "1");
    writeFileSync(join(two, "same.txt"), "2");
    await expect(localInputManifest([join(one, "same.txt"), join(two, "same.txt")])).rejects.toThrow(
      /would both be the input same.txt/,
    );
    await expect(localInputManifest([join(one, "missing.txt")])).rejects.toThrow(/Cannot read the input/);
  });
});
