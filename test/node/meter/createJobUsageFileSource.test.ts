import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Store } from "../../../marketplace/store/openStore.ts";
import { MAX_JOB_USAGE_LINE_BYTES } from "../../../node/meter/constants.ts";
import { createJobUsageFileSource } from "../../../node/meter/createJobUsageFileSource.ts";
import type { MeterObservation } from "../../../node/meter/types.ts";
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { usageTotals } from "../../../node/store/usageTotals.ts";

let dir: string;
let file: string;
let store: Store;
let warnings: { message: string; fields: Record<string, unknown> | undefined }[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-usage-file-"));
  file = join(dir, ".gridspot-usage.jsonl");
  store = openProviderStore(join(dir, "provider.db"));
  warnings = [];
});
afterEach(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const at = (timeMs: number): MeterObservation => ({ seq: 0, monoMs: 0n, timeMs, pids: [], paused: false });
const source = () =>
  createJobUsageFileSource({
    jobId: "job-9",
    path: file,
    onWarning: (message, fields) => warnings.push({ message, fields }),
  });
const line = (value: unknown) => `${JSON.stringify(value)}\n`;

describe("createJobUsageFileSource", () => {
  it("skips lines for a meter the agreement does not name as self-reported", async () => {
    const s = createJobUsageFileSource({
      jobId: "job-9",
      path: file,
      onWarning: (message, fields) => warnings.push({ message, fields }),
      selfReported: ["tokens"],
    });
    writeFileSync(
      file,
      line({ meter: "requests", quantity: 5, id: "r1" }) +
        line({ meter: "cpu_core_ms", quantity: 9000, id: "c1" }) +
        line({ meter: "tokens", quantity: 7, id: "t1" }),
    );
    expect((await s.collect(at(2))).map((e) => [e.meter, e.quantity])).toEqual([["tokens", 7n]]);
    expect(s.badLines).toBe(2);
    expect(warnings[0]?.fields?.firstProblem).toBe(
      "meter must be one the agreement names as self-reported (tokens)",
    );
  });

  it("ingests new lines each sample as job events, and a repeated id counts once in the ledger", async () => {
    const s = source();
    expect(await s.collect(at(1))).toEqual([]); // no file yet
    writeFileSync(
      file,
      line({ meter: "requests", quantity: 1, id: "r1" }) +
        line({ meter: "tokens", quantity: "4096", id: "t1" }),
    );
    const first = await s.collect(at(2));
    expect(first).toEqual([
      { id: "job-9:job:r1", jobId: "job-9", source: "job", meter: "requests", quantity: 1n, time: 2 },
      { id: "job-9:job:t1", jobId: "job-9", source: "job", meter: "tokens", quantity: 4096n, time: 2 },
    ]);
    expect(insertUsageEvents(store, first).inserted).toHaveLength(2);
    // Only what was appended since; the job repeats r1 (a retry of its own) and adds r2.
    appendFileSync(
      file,
      line({ meter: "requests", quantity: 1, id: "r1" }) + line({ meter: "requests", quantity: 2, id: "r2" }),
    );
    const second = await s.collect(at(3));
    expect(second.map((e) => e.id)).toEqual(["job-9:job:r1", "job-9:job:r2"]);
    expect(insertUsageEvents(store, second)).toEqual({
      inserted: ["job-9:job:r2"],
      duplicates: ["job-9:job:r1"],
    });
    expect(usageTotals(store, "job-9")).toEqual({ requests: 3n, tokens: 4096n });
    expect(await s.collect(at(4))).toEqual([]);
    expect(s.acceptedLines).toBe(4);
    expect(warnings).toEqual([]);
  });

  it("waits for the end of a line being written", async () => {
    const s = source();
    writeFileSync(file, '{"meter":"tokens","quan');
    expect(await s.collect(at(1))).toEqual([]);
    appendFileSync(file, 'tity":7,"id":"a"}\n{"meter":"tokens"');
    expect((await s.collect(at(2))).map((e) => e.quantity)).toEqual([7n]);
    appendFileSync(file, ',"quantity":8,"id":"b"}\n');
    expect((await s.collect(at(3))).map((e) => e.id)).toEqual(["job-9:job:b"]);
  });

  it("skips bad lines and counts them in a warning, never throwing", async () => {
    const s = source();
    writeFileSync(
      file,
      [
        "not json\n",
        line([1, 2]),
        line({ meter: "gpu_ms", quantity: 1, id: "x" }),
        line({ meter: "tokens", quantity: -1, id: "x" }),
        line({ meter: "tokens", quantity: 1.5, id: "x" }),
        line({ meter: "tokens", quantity: "2e3", id: "x" }),
        line({ meter: "tokens", quantity: 2 ** 41, id: "x" }),
        line({ meter: "tokens", quantity: 1 }),
        line({ meter: "tokens", quantity: 1, id: "y".repeat(129) }),
        line({ meter: "tokens", quantity: 3, id: "good" }),
        "\n",
      ].join(""),
    );
    const events = await s.collect(at(1));
    expect(events.map((e) => e.id)).toEqual(["job-9:job:good"]);
    expect(s.badLines).toBe(9);
    expect(warnings).toEqual([
      {
        message: "skipped bad lines in the job's usage file",
        fields: { count: 9, firstLine: 1, firstProblem: "not JSON" },
      },
    ]);
  });

  it("skips a line longer than the limit, even one that arrives in pieces", async () => {
    const s = source();
    writeFileSync(file, "x".repeat(MAX_JOB_USAGE_LINE_BYTES + 10));
    expect(await s.collect(at(1))).toEqual([]);
    appendFileSync(file, `${"x".repeat(100)}\n${line({ meter: "requests", quantity: 1, id: "after" })}`);
    expect((await s.collect(at(2))).map((e) => e.id)).toEqual(["job-9:job:after"]);
    expect(s.badLines).toBe(1);
  });

  it("never follows a symlink nor blocks on a FIFO the job put in its place", async () => {
    const secret = join(dir, "secret.jsonl");
    writeFileSync(secret, line({ meter: "tokens", quantity: 1, id: "leak" }));
    symlinkSync(secret, file);
    const s = source();
    await expect(async () => s.collect(at(1))).rejects.toThrow(/cannot open the job's usage file \(ELOOP\)/);
    rmSync(file);
    execFileSync("mkfifo", [file]);
    await expect(async () => s.collect(at(2))).rejects.toThrow(/not a regular file/);
  });
});
