import { describe, expect, it } from "vitest";
import { readProcessTree } from "../../../../node/meter/readProcessTree.ts";
import { readPssKiB } from "../../../../node/run/process/readPssKiB.ts";

describe("readPssKiB", () => {
  it("reads a live process's proportional set size, at most its RSS", () => {
    const pss = readPssKiB([process.pid]);
    expect(pss).toBeGreaterThan(0n);
    expect(pss).toBeLessThanOrEqual(readProcessTree(process.pid).rssKiB + 1024n);
  });

  it("counts processes that are gone as 0", () => {
    expect(readPssKiB([2 ** 22 + 17])).toBe(0n);
    expect(readPssKiB([])).toBe(0n);
  });
});
