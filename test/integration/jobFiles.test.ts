// A job's inputs and outputs at real sizes on real parts: a provider node as its own process, the
// submitter's CLI code in this process, files streamed in chunks over `/gridspot/job/1.0.0` with a
// sha256 per file. Folders keep their shape, a symlinked output is dropped and named while the
// others arrive, a manifest that lies is refused before anything runs, and so are inputs over the
// provider's limit, before a byte of them is sent.
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { peerIdFromString } from "@libp2p/peer-id";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { ensureChannel } from "../../marketplace/client/ensureChannel.ts";
import { submitJob } from "../../marketplace/client/submitJob.ts";
import {
  claimChannel,
  insertSubmitterJob,
  listSubmitterJobs,
} from "../../marketplace/client/submitterStore.ts";
import { withDefaultMaxRates } from "../../marketplace/client/withDefaultMaxRates.ts";
import { signEnvelope } from "../../marketplace/messages/envelope.ts";
import { providerFrame } from "../../marketplace/messages/job.ts";
import { toJson } from "../../marketplace/messages/json.ts";
import type { JobOrder } from "../../marketplace/messages/order.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES, ORDERS_TOPIC } from "../../marketplace/p2p/constants.ts";
import { frameChannel } from "../../marketplace/p2p/frames.ts";
import { type LocalFile, localInputManifest } from "../../marketplace/transfer/localInputManifest.ts";
import { createCleanups } from "./support/cleanups.ts";
import { GRID, type Market, startMarket } from "./support/market.ts";
import {
  createTestSubmitter,
  GPU_CLASS,
  startTestProvider,
  type TestProvider,
  type TestSubmitter,
} from "./support/nodes.ts";

const MiB = 1024 * 1024;
/** The provider takes 100 MiB of inputs per job here: the 64 MiB job fits, a 200 MiB manifest does not. */
const MAX_INPUT_BYTES = 100 * MiB;
/**
 * The provider's JavaScript heap, MiB: room for the node itself and a few chunks, not for a 64 MiB
 * file as base64 (85 MiB). A node that held a whole file would run out of heap and die.
 */
const PROVIDER_HEAP_MIB = 96;

let market: Market;
let provider: TestProvider;
let payer: TestSubmitter;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  cleanups.add(() => market.stop());
  provider = await startTestProvider(market, {
    env: { NODE_OPTIONS: `--max-old-space-size=${PROVIDER_HEAP_MIB}` },
    config: {
      limits: {
        cpuCores: 2,
        memMiB: 4096,
        maxDurationS: 600,
        holdMs: 30_000,
        maxInputBytes: MAX_INPUT_BYTES,
      },
    },
  });
  cleanups.add(() => provider.stop());
  payer = await createTestSubmitter(market, [provider]);
  cleanups.add(() => payer.submitter.close());
}, 120_000);
afterAll(() => cleanups.run());

const sha = (data: Uint8Array | string) => createHash("sha256").update(data).digest("hex");
const requirements = { gpus: 1, gpuClass: GPU_CLASS, cpuCores: 1, memMiB: 512, maxDurationS: 120 };
const maxRates = [{ meter: "gpu_ms" as const, price: 5n * GRID, per: 3_600_000n }];

/** A job of `node -e script` with these inputs and output globs, through `submitJob` (the CLI's path). */
function submit(
  script: string,
  inputs: readonly LocalFile[],
  outputs: string[],
  name: string,
  transfers?: string[],
) {
  return submitJob(payer.submitter, {
    requirements,
    maxRates,
    budget: GRID,
    spec: { command: process.execPath, args: ["-e", script], env: {}, outputs },
    inputs,
    outputDir: join(market.work, name),
    bidWindowMs: 1_000,
    explain: false,
    redeemWaitMs: 20_000,
    events: {
      onTransfer: (direction, p) => transfers?.push(`${direction} ${p.path} ${p.bytes}/${p.totalBytes}`),
    },
  });
}

/** The job the submitter last recorded (a refused start leaves its record, with its id). */
const lastJobId = () => listSubmitterJobs(payer.submitter.store, 1)[0]?.jobId ?? "";

describe("job inputs and outputs", () => {
  it("round-trips nested folders; a symlinked output is dropped and named while the others arrive", async () => {
    const src = join(market.work, "nested-src");
    const data = join(src, "data");
    mkdirSync(join(data, "sub", "deeper"), { recursive: true });
    writeFileSync(join(data, "a.txt"), "alpha");
    writeFileSync(join(data, "sub", "b.txt"), "beta");
    const c = randomBytes(1_500_000);
    writeFileSync(join(data, "sub", "deeper", "c.bin"), c);
    writeFileSync(join(data, "tool.sh"), "#!/bin/sh\n");
    chmodSync(join(data, "tool.sh"), 0o755);
    symlinkSync("/etc/hostname", join(data, "link"));
    const manifest = await localInputManifest([data]);
    expect(manifest.skipped.map((s) => s.reason)).toEqual(["a symlink"]);

    const script = [
      'const fs=require("node:fs");',
      'fs.mkdirSync("results/a",{recursive:true});',
      'fs.writeFileSync("results/a/b.txt","nested output");',
      'fs.cpSync("data","results/copy",{recursive:true});',
      'fs.writeFileSync("results/mode.txt",(fs.statSync("data/tool.sh").mode&0o777).toString(8));',
      'fs.symlinkSync("/etc/passwd","results/passwd");',
    ].join("");
    const result = await submit(script, manifest.files, ["results/**"], "out-nested");
    expect(result.status).toBe("completed");
    const out = join(market.work, "out-nested", result.jobId);
    expect(readFileSync(join(out, "results/a/b.txt"), "utf8")).toBe("nested output");
    expect(readFileSync(join(out, "results/copy/a.txt"), "utf8")).toBe("alpha");
    expect(readFileSync(join(out, "results/copy/sub/b.txt"), "utf8")).toBe("beta");
    expect(sha(readFileSync(join(out, "results/copy/sub/deeper/c.bin")))).toBe(sha(c));
    expect(readFileSync(join(out, "results/mode.txt"), "utf8")).toBe("755");
    expect(result.outputs).toContain(join(out, "results/a/b.txt"));
    expect(result.outputs).toContain(join(out, "results/copy/sub/deeper/c.bin"));
    // The symlink to /etc/passwd: named with the reason, never followed, and the rest still came.
    expect(result.dropped).toEqual([{ path: "results/passwd", reason: "outside-work-dir" }]);
    expect(existsSync(join(out, "results/passwd"))).toBe(false);
  });

  it("moves a 64 MiB input and a 64 MiB output, checked by sha256, through a provider with a 96 MiB heap", async () => {
    const size = 64 * MiB;
    const src = join(market.work, "big-src");
    mkdirSync(src, { recursive: true });
    const hash = createHash("sha256");
    const file = await open(join(src, "big.bin"), "w");
    for (let offset = 0; offset < size; offset += MiB) {
      const piece = randomBytes(MiB);
      hash.update(piece);
      await file.write(piece);
    }
    await file.close();
    const digest = hash.digest("hex");
    const manifest = await localInputManifest([join(src, "big.bin")]);
    expect(manifest.files).toEqual([{ path: "big.bin", source: join(src, "big.bin"), size, sha256: digest }]);

    const transfers: string[] = [];
    const script =
      'const fs=require("node:fs");fs.mkdirSync("out");fs.copyFileSync("big.bin","out/big.bin");';
    const result = await submit(script, manifest.files, ["out/*"], "out-big", transfers);
    expect(result.status).toBe("completed");
    const copy = join(market.work, "out-big", result.jobId, "out/big.bin");
    expect(result.outputs).toEqual([copy]);
    expect(statSync(copy).size).toBe(size);
    const check = createHash("sha256");
    const handle = await open(copy, "r");
    for await (const piece of handle.createReadStream()) check.update(piece as Buffer);
    expect(check.digest("hex")).toBe(digest);
    // Progress in both directions, chunk by chunk.
    expect(transfers).toContain(`inputs big.bin ${size}/${size}`);
    expect(transfers).toContain(`outputs out/big.bin ${size}/${size}`);
    expect(transfers.filter((t) => t.startsWith("inputs")).length).toBe(64);
    // The output's bytes are billed as egress.
    expect(result.usage.egress_bytes ?? 0n).toBeGreaterThanOrEqual(BigInt(size));
    // 128 MiB went through the provider (as 170 MiB of base64) within its 96 MiB heap, and it
    // still serves.
    expect(provider.process.child.exitCode).toBeNull();
    expect((await fetch(provider.api("/v1/status"))).status).toBe(200);
  });

  it("refuses a manifest whose sha256 does not match the bytes sent, and runs nothing", async () => {
    const src = join(market.work, "liar-src");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "in.txt"), "the real bytes");
    const marker = join(market.work, "liar-ran");
    const [real] = (await localInputManifest([join(src, "in.txt")])).files;
    if (real === undefined) throw new Error("no manifest entry");
    const lie = { ...real, sha256: sha("other bytes") };
    const script = `require("node:fs").writeFileSync(${JSON.stringify(marker)},"ran")`;
    await expect(submit(script, [lie], [], "out-liar")).rejects.toThrow(
      /The provider refused the job: input-sha256-mismatch/,
    );
    const jobId = lastJobId();
    expect((await fetch(provider.api(`/v1/jobs/${jobId}`))).status).toBe(404);
    expect(existsSync(join(provider.dataDir, "jobs", jobId))).toBe(false);
    expect(existsSync(marker)).toBe(false);
  });

  it("refuses a chunk past its manifest size with input-size-mismatch, before the job starts", async () => {
    // A submitter that sends more bytes than it signed for: the real agreement, the real channel,
    // the stream driven by hand.
    const { submitter } = payer;
    const { host, bids } = await submitter.network();
    const order: JobOrder = {
      orderId: randomBytes(9).toString("base64url"),
      submitter: payer.address,
      peerId: host.peerId.toString(),
      addrs: host.getMultiaddrs().map((a) => a.toString()),
      requirements,
      maxRates: withDefaultMaxRates(maxRates),
      bidWindowMs: 1_000,
      explain: false,
    };
    bids.open(order);
    const nowS = Math.floor(Date.now() / 1000);
    const signedOrder = await signEnvelope(submitter.account, {
      chainId: market.chain.chainId,
      kind: "JobOrder",
      peerId: order.peerId,
      expiresAt: nowS + 60,
      payload: order,
    });
    for (let i = 0; i < 100 && host.services.pubsub.getSubscribers(ORDERS_TOPIC).length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    await host.services.pubsub.publish(ORDERS_TOPIC, new TextEncoder().encode(toJson(signedOrder)));
    await new Promise((resolve) => setTimeout(resolve, order.bidWindowMs));
    const offer = bids.close(order.orderId).bids.find((b) => b.bid.provider === provider.address);
    if (offer === undefined) throw new Error("the provider did not bid");
    const jobId = randomBytes(9).toString("base64url");
    const accepted = await bids.accept(order, offer, jobId);
    if (accepted === undefined) throw new Error("the provider backed out");
    const { channelId, base } = await ensureChannel(submitter.clients, submitter.store, {
      token: market.deployment.contracts.computeToken,
      escrow: market.deployment.contracts.computeEscrow,
      provider: provider.address,
      amount: GRID / 10n,
      until: nowS + requirements.maxDurationS + 3600,
      jobId,
    });
    insertSubmitterJob(submitter.store, {
      jobId,
      provider: provider.address,
      channelId,
      channelBase: base,
      agreement: JSON.stringify(accepted.signatures),
      spec: "{}",
      budget: GRID / 10n,
      createdAt: Date.now(),
    });
    try {
      const start = await signEnvelope(submitter.account, {
        chainId: market.chain.chainId,
        kind: "JobStart",
        peerId: host.peerId.toString(),
        expiresAt: nowS + 600,
        payload: {
          jobId,
          agreement: accepted.agreement,
          channelId,
          channelBase: base,
          spec: { command: process.execPath, args: ["-e", "1"], env: {}, outputs: [] },
          inputs: [{ path: "in.txt", size: 5, sha256: sha("hello") }],
        },
      });
      const stream = await host.dialProtocol(peerIdFromString(provider.info.peerId), JOB_PROTOCOL, {
        signal: AbortSignal.timeout(10_000),
      });
      const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
      await channel.write({ type: "start", start, agreement: accepted.signatures });
      const read = () => channel.read(providerFrame, { signal: AbortSignal.timeout(20_000) });
      expect(await read()).toEqual({ type: "send-inputs", jobId });
      const data = Buffer.from("hello, and more").toString("base64");
      await channel.write({ type: "input-chunk", index: 0, offset: 0, data });
      const answer = await read();
      expect(answer).toEqual(expect.objectContaining({ type: "error", code: "input-size-mismatch" }));
      expect(z.object({ message: z.string() }).parse(answer).message).toMatch(/in\.txt/);
      await channel.close();
      expect((await fetch(provider.api(`/v1/jobs/${jobId}`))).status).toBe(404);
      expect(existsSync(join(provider.dataDir, "jobs", jobId))).toBe(false);
    } finally {
      claimChannel(submitter.store, channelId, null);
    }
  });

  it("refuses inputs over the provider's limit before a byte of them is sent", async () => {
    const transfers: string[] = [];
    const huge: LocalFile = {
      path: "huge.bin",
      // Never opened: the refusal comes before the upload.
      source: join(market.work, "does-not-exist.bin"),
      size: 2 * MAX_INPUT_BYTES,
      sha256: sha("never sent"),
    };
    await expect(submit("1", [huge], [], "out-huge", transfers)).rejects.toThrow(
      /The provider refused the job: inputs-too-large/,
    );
    expect(transfers).toEqual([]);
    expect((await fetch(provider.api(`/v1/jobs/${lastJobId()}`))).status).toBe(404);
  });
});
