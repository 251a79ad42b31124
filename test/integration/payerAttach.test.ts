// A payer whose agent goes away mid-job (SIGKILLed, restarted, asleep) and comes back: on real parts
// (anvil, a provider process running real jobs, a hand-driven payer on its own libp2p host). An
// agreement with `maxSuspendedS` keeps the job suspended, not killed, while the payer is away; its
// new stream attaches to the running job and gets what it missed exactly once, and the job carries
// on. A forged attach changes nothing; an attach to an ended job gets its end; a payer that never
// comes back gets its job ended once the wait is over.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ProviderFrame } from "../../marketplace/messages/job.ts";
import { type DebitNote, debitNote } from "../../marketplace/messages/receipt.ts";
import { createCleanups } from "./support/cleanups.ts";
import { createHandPayer, type HandPayer, type JobHeld, newId, tickingScript } from "./support/handPayer.ts";
import { type Market, startMarket } from "./support/market.ts";
import {
  GRACE_INTERVALS,
  RECEIPT_INTERVAL_MS,
  startTestProvider,
  type TestProvider,
} from "./support/nodes.ts";
import { getJson, waitFor } from "./support/waitFor.ts";

const GRACE_MS = GRACE_INTERVALS * RECEIPT_INTERVAL_MS;

let market: Market;
let provider: TestProvider;
let payer: HandPayer;
const cleanups = createCleanups();

beforeAll(async () => {
  market = await startMarket();
  cleanups.add(() => market.stop());
  // Info logs: a test waits for the line that says the provider waits for its payer.
  provider = await startTestProvider(market, { env: { GRIDSPOT_LOG: "info" } });
  cleanups.add(() => provider.stop());
  payer = await createHandPayer(market, provider);
  cleanups.add(() => payer.stop());
});
afterAll(() => cleanups.run());

type Of<T extends ProviderFrame["type"]> = Extract<ProviderFrame, { type: T }>;
const isType =
  <T extends ProviderFrame["type"]>(type: T) =>
  (f: ProviderFrame): f is Of<T> =>
    f.type === type;
const noteOf = (f: Of<"note">): DebitNote => debitNote.parse(JSON.parse(f.note.payload));
const spec = (cpuMs: number, outputs: string[] = []) => ({
  command: process.execPath,
  args: ["-e", tickingScript(cpuMs)],
  env: {},
  outputs,
});
/** Ticks every 50 ms until a file named `release` appears in its work dir (20 s at most), then ends. */
const releasedSpec = (outputs: string[]) => ({
  command: process.execPath,
  args: [
    "-e",
    [
      'const fs=require("node:fs");let n=0;',
      "const end=Date.now()+20000;",
      "const t=setInterval(()=>{",
      'console.log("tick "+n);if(n%5===0)console.error("err "+n);n++;',
      'if(fs.existsSync("release")||Date.now()>end){clearInterval(t);fs.writeFileSync("result.txt","ticked "+n);console.log("done");}',
      "},50);",
    ].join(""),
  ],
  env: {},
  outputs,
});
/** The job's whole stdout, as tickingScript writes it: every tick once, in order, then `done`. */
const expectWholeStdout = (held: JobHeld) => {
  const lines = held.logs.stdout.toString("utf8").trimEnd().split("\n");
  expect(lines.at(-1)).toBe("done");
  expect(lines.slice(0, -1)).toEqual(lines.slice(0, -1).map((_, i) => `tick ${i}`));
  expect(held.offsetErrors).toEqual([]);
};
const usageOf = (note: DebitNote, meter: string) => note.usage.find((u) => u.meter === meter)?.quantity ?? 0n;

describe("a payer attaching again to its job", () => {
  it("drops its stream mid-job: the job waits suspended past the grace period, and the new stream gets what it missed once, pays, and the job completes", async () => {
    const agreed = await payer.agree({ maxSuspendedS: 4 });
    expect(agreed.agreement.maxSuspendedS).toBe(4);
    const jobId = agreed.agreement.jobId;
    const { held, stream: first } = await payer.start(agreed, spec(4_000));
    const started = (await first.next("started", isType("started"))) as Of<"started">;

    // Notes 0 and 1 paid, then the agent dies: its stream is gone and nothing answers note 2.
    await first.next("note 1", (f) => f.type === "note" && noteOf(f).seq === 1);
    await waitFor("the voucher for note 1", () => (held.paid.has(1) ? true : undefined));
    held.paying = false;
    await sleep(100);
    first.abort();
    const liveBefore = held.logs.stdout.length + held.logs.stderr.length;

    // Past twice the grace period after note 2 (the rule without maxSuspendedS would have killed
    // the job by then), well within maxSuspendedS: still running, suspended.
    await sleep(RECEIPT_INTERVAL_MS + 2 * GRACE_MS + 1_000);
    expect(provider.log()).toMatch(/no voucher within the grace period.*: job suspended/);
    const during = await getJson<{ status: string }>(provider.api(`/v1/jobs/${jobId}`));
    expect(during.status).toBe("running");

    held.paying = true;
    const second = await payer.attach({ jobId, held });
    const attached = (await second.next("attached", isType("attached"))) as Of<"attached">;
    expect(attached).toEqual({ type: "attached", jobId, suspended: true, logGap: { stdout: 0, stderr: 0 } });
    const end = (await second.next("end", isType("end"))) as Of<"end">;
    expect(end.status).toBe("completed");
    expect(end.reasonCode).toBe("exit");

    // The frames in order: attached, started again (as it was), the logs it missed, the note it did
    // not answer, the status that says the job waits; then the resume its voucher brought.
    const types = second.frames.map((f) => f.type);
    const firstNote = types.indexOf("note");
    expect(types.slice(0, 2)).toEqual(["attached", "started"]);
    expect(second.frames[1]).toEqual(started);
    expect(new Set(types.slice(2, firstNote))).toEqual(new Set(["log"]));
    const replayed = second.frames.slice(2, firstNote) as Of<"log">[];
    expect(replayed.length).toBeGreaterThan(0);
    const replayedNotes = second.frames.slice(firstNote).filter(isType("note")).map(noteOf);
    expect(replayedNotes[0]?.seq).toBe(2);
    const statusAt = types.indexOf("status");
    expect(second.frames[statusAt]).toEqual(expect.objectContaining({ status: "suspended" }));
    expect(new Set(types.slice(firstNote, statusAt))).toEqual(new Set(["note"]));
    expect(second.frames.filter(isType("status")).map((s) => s.status)).toEqual(["suspended", "resumed"]);

    // Every log byte exactly once, across both streams; every note paid, the final one included.
    expectWholeStdout(held);
    expect(held.logs.stderr.toString("utf8")).toMatch(/^err 0\n/);
    const notes = [...held.notes.values()].sort((a, b) => a.seq - b.seq);
    expect(notes.map((n) => n.seq)).toEqual(notes.map((_, i) => i));
    const final = notes.at(-1) as DebitNote;
    expect(final.final).toBe(true);
    expect([...held.paid].sort((a, b) => a - b)).toEqual(notes.map((n) => n.seq));
    expect(end.jobAmount).toBe(final.jobAmount);

    // The suspended time is not billed: the job ran about its 4 s of CPU, while more than 1.5 s
    // more passed suspended (the grace period after note 2 up to the attach).
    const wallMs = BigInt((end.endedAt ?? 0) - (end.startedAt ?? 0));
    const billedMs = usageOf(final, "gpu_ms");
    expect(billedMs).toBeGreaterThanOrEqual(3_500n);
    expect(billedMs).toBeLessThan(wallMs - 1_500n);
    // Egress is billed for log bytes sent live, never for their replay.
    const total = BigInt(held.logs.stdout.length + held.logs.stderr.length);
    const egress = usageOf(final, "egress_bytes");
    expect(egress).toBeGreaterThanOrEqual(BigInt(liveBefore));
    expect(egress).toBeLessThanOrEqual(total);

    const record = await getJson<{ status: string; reasonCode: string }>(provider.api(`/v1/jobs/${jobId}`));
    expect(record).toEqual(expect.objectContaining({ status: "completed", reasonCode: "exit" }));
  });

  it("ends while its payer is away: the job waits for the payer, whose new stream gets the rest, the final note, the outputs and the end", async () => {
    const agreed = await payer.agree({ maxSuspendedS: 6 });
    const jobId = agreed.agreement.jobId;
    // The job ends when the test says so (a file in its work dir), not after some CPU time: it must
    // end after the provider saw the stream go and before the grace period suspends it, whatever
    // the machine's load.
    const { held, stream: first } = await payer.start(agreed, releasedSpec(["result.txt"]));
    await first.next("note 1", (f) => f.type === "note" && noteOf(f).seq === 1);
    await waitFor("the voucher for note 1", () => (held.paid.has(1) ? true : undefined));
    const streamsClosed = () => provider.log().match(/submitter stream (closed|lost)/g)?.length ?? 0;
    const closedBefore = streamsClosed();
    first.abort();
    await waitFor("the provider to see the stream go", () =>
      streamsClosed() > closedBefore ? true : undefined,
    );
    await writeFile(join(provider.dataDir, "jobs", jobId, "release"), "");
    // The job ends within the grace period, not suspended; the provider waits for its payer.
    await waitFor(
      "the provider to wait for the payer",
      () =>
        /job over with its payer away: waiting for it to attach/.test(provider.log()) ? true : undefined,
      { timeoutMs: 10_000 },
    );
    await sleep(1_000);

    const second = await payer.attach({ jobId, held });
    const end = (await second.next("end", isType("end"))) as Of<"end">;
    expect(end.status).toBe("completed");
    const attached = second.frames[0] as Of<"attached">;
    expect(attached.type).toBe("attached");
    expect(attached.suspended).toBe(false);
    expect(second.frames[1]?.type).toBe("started");
    expect(second.frames.filter(isType("status"))).toEqual([]);
    expectWholeStdout(held);
    const final = [...held.notes.values()].find((n) => n.final);
    expect(final).toBeDefined();
    expect(held.paid.has(final?.seq ?? -1)).toBe(true);
    // Outputs only once the final note is paid, then the end.
    const types = second.frames.map((f) => f.type);
    const outputs = second.frames.find(isType("outputs"));
    expect(outputs?.files.map((f) => f.path)).toEqual(["result.txt"]);
    expect(types.indexOf("outputs")).toBeGreaterThan(types.lastIndexOf("note"));
    expect(types.at(-1)).toBe("end");
  });

  it("refuses an attach signed by another key, or for a job it does not know, and the job runs on untouched", async () => {
    const agreed = await payer.agree({ maxSuspendedS: 4 });
    const jobId = agreed.agreement.jobId;
    const { held, stream: first } = await payer.start(agreed, spec(2_000));
    await first.next("note 0", (f) => f.type === "note" && noteOf(f).seq === 0);

    const stranger = privateKeyToAccount((await market.fundAccount(0n)).key);
    const forged = await payer.attach({ jobId, held, signer: stranger });
    const refused = (await forged.next("an error", isType("error"))) as Of<"error">;
    expect(refused.code).toBe("not-submitter");
    await forged.closed;
    const unknown = await payer.attach({ jobId: newId() });
    expect(((await unknown.next("an error", isType("error"))) as Of<"error">).code).toBe("unknown-job");
    // Signed by the payer, but for another peer than the one it comes from.
    const otherPeer = await payer.attach({ jobId, held, signedPeerId: provider.info.peerId });
    expect(((await otherPeer.next("an error", isType("error"))) as Of<"error">).code).toBe("peer-mismatch");
    expect(forged.frames.map((f) => f.type)).toEqual(["error"]);

    // The first stream never noticed: the job completes on it, every note paid, logs whole.
    const end = (await first.next("end", isType("end"))) as Of<"end">;
    expect(end.status).toBe("completed");
    expect(first.frames.some((f) => f.type === "attached" || f.type === "status")).toBe(false);
    expectWholeStdout(held);
    expect(held.paid.size).toBe(held.notes.size);
  });

  it("answers an attach to a job that ended with its end frame, and refuses one signed by another key", async () => {
    const agreed = await payer.agree({ maxSuspendedS: 4 });
    const jobId = agreed.agreement.jobId;
    const { held, stream } = await payer.start(agreed, spec(500));
    const end = (await stream.next("end", isType("end"))) as Of<"end">;
    await stream.closed;

    const again = await payer.attach({ jobId, held });
    const answer = await again.next("end", isType("end"));
    expect(answer).toEqual(end);
    await again.closed;
    expect(again.frames).toEqual([end]);

    const stranger = privateKeyToAccount((await market.fundAccount(0n)).key);
    const forged = await payer.attach({ jobId, signer: stranger });
    expect(((await forged.next("an error", isType("error"))) as Of<"error">).code).toBe("not-submitter");
  });

  it("ends a job whose payer never comes back once it has been suspended maxSuspendedS, not at twice the grace period", async () => {
    const maxSuspendedS = 3;
    const agreed = await payer.agree({ maxSuspendedS });
    const jobId = agreed.agreement.jobId;
    const { held, stream } = await payer.start(agreed, spec(20_000));
    await stream.next("note 1", (f) => f.type === "note" && noteOf(f).seq === 1);
    await waitFor("the voucher for note 1", () => (held.paid.has(1) ? true : undefined));
    await sleep(100);
    stream.abort();
    const droppedAt = Date.now();

    type ApiJob = {
      status: string;
      reason: string;
      reasonCode: string;
      startedAt: number;
      endedAt: number;
      usage: Record<string, string>;
    };
    const job = await waitFor(
      "the provider to end the job",
      async () => {
        const j = await getJson<ApiJob>(provider.api(`/v1/jobs/${jobId}`));
        return j.status === "running" ? undefined : j;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(job.status).toBe("suspended");
    expect(job.reasonCode).toBe("suspended-timeout");
    expect(job.reason).toMatch(/the payer did not come back within 3 s/);
    // Note 2 is due a receipt interval after note 1, the suspension a grace period after it, the
    // end maxSuspendedS after that; without maxSuspendedS it would end 2 × grace after note 2.
    const endedAfterDropMs = job.endedAt - droppedAt;
    expect(endedAfterDropMs).toBeGreaterThan(GRACE_MS + maxSuspendedS * 1000 - 200);
    expect(endedAfterDropMs).toBeLessThan(RECEIPT_INTERVAL_MS + GRACE_MS + maxSuspendedS * 1000 + 1_500);
    // Its suspended time was not billed.
    expect(BigInt(job.usage.gpu_ms ?? "0")).toBeLessThan(BigInt(job.endedAt - job.startedAt - 2_500));
  });
});
