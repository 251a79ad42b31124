import { describe, expect, it } from "vitest";
import { transferProgress } from "../../../marketplace/cli/transferProgress.ts";

const MiB = 1024 * 1024;
const progress = (bytes: number, totalBytes: number, path = "data/big.bin") => ({
  path,
  fileBytes: bytes,
  fileSize: totalBytes,
  bytes,
  totalBytes,
});

describe("transferProgress", () => {
  it("writes a line at each tenth of the bytes, one at the end, and none in between", () => {
    const lines: string[] = [];
    const report = transferProgress(
      (line) => lines.push(line),
      () => 0,
    );
    for (let bytes = MiB; bytes <= 64 * MiB; bytes += MiB) report("inputs", progress(bytes, 64 * MiB));
    expect(lines[0]).toBe("inputs sent 1.0 MiB of 64.0 MiB (1 %), data/big.bin");
    expect(lines.at(-1)).toBe("inputs sent 64.0 MiB of 64.0 MiB (100 %)");
    expect(lines).toHaveLength(11);
  });

  it("writes at least a line a second when the bytes crawl, and keeps each direction apart", () => {
    let now = 0;
    const lines: string[] = [];
    const report = transferProgress(
      (line) => lines.push(line),
      () => now,
    );
    report("outputs", progress(1, 1000, "out/a.txt"));
    report("outputs", progress(2, 1000, "out/a.txt"));
    now = 1_000;
    report("outputs", progress(3, 1000, "out/a.txt"));
    report("inputs", progress(10, 10, "in.txt"));
    expect(lines).toEqual([
      "outputs received 1 B of 1000 B (0 %), out/a.txt",
      "outputs received 3 B of 1000 B (0 %), out/a.txt",
      "inputs sent 10 B of 10 B (100 %)",
    ]);
  });
});
