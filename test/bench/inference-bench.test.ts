// The inference benchmark, run small: its last stdout line is one JSON object with the figures the
// issue asks for, and the 200 ms example bills as it must.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { dockerMissing } from "../support/requires.ts";

const SCRIPT = join(import.meta.dirname, "..", "..", "scripts", "bench", "inference.ts");

describe("bench:inference", () => {
  it("prints one JSON object with every figure as its last stdout line", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        SCRIPT,
        "--json",
        "--runs",
        "1",
        "--requests",
        "50",
        "--seconds",
        "1",
        "--cold-starts",
        "1",
        "--example-requests",
        "2",
      ],
      { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
    );
    const lines = stdout.trim().split("\n");
    const figures = JSON.parse(lines.at(-1) ?? "") as Record<string, unknown>;
    expect(figures.replica).toBe("process");
    for (const key of [
      "gatewayOverheadP50Ms",
      "gatewayOverheadP99Ms",
      "requestsPerSec",
      "coldStartP50Ms",
      "billedOverMeasured",
    ]) {
      expect(typeof figures[key], key).toBe("number");
      expect(Number.isFinite(figures[key]), key).toBe(true);
    }
    expect(figures.requestsPerSec).toBeGreaterThan(0);
    // Containers where a Docker Engine answers (the image built offline), processes otherwise.
    expect(typeof figures.processColdStartP50Ms).toBe("number");
    expect(figures.coldStartReplica).toBe(dockerMissing === undefined ? "docker" : "process");
    expect(figures.coldStartP50Ms).toBe(
      dockerMissing === undefined ? figures.dockerColdStartP50Ms : figures.processColdStartP50Ms,
    );
    // The example: 200 ms per request at ms (plus the proxy's hop), 1 s at s, 60 s at min.
    expect(figures.bill200msMs).toBeGreaterThanOrEqual(200);
    expect(figures.bill200msMs).toBeLessThan(260);
    expect(figures.bill200msS).toBe(1_000);
    expect(figures.bill200msMin).toBe(60_000);
    expect(figures.billedOverMeasured).toBeGreaterThanOrEqual(0.95);
  });
});
