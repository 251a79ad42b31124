import { describe, expect, it } from "vitest";
import { formatDuration, formatGrid, formatRate, parseDurationS } from "../../../marketplace/cli/format.ts";

const GRID = 10n ** 18n;
const HOUR_MS = 3_600_000n;

describe("CLI formatting (one place for money, rates and time)", () => {
  it.each([
    [0n, "0 GRID"],
    [GRID, "1 GRID"],
    [(5n * GRID) / 4n, "1.25 GRID"],
    [6_250_000_000_000_000n, "0.00625 GRID"],
    [6_255_734_592_013_888n, "0.00625573 GRID"],
    [1234n * GRID + 567_891_234_000_000_000n, "1234.567891 GRID"],
    [1n, "0.000000000000000001 GRID"],
    [2n * GRID - 1n, "2 GRID"],
  ])("formatGrid(%s) = %s", (amount, text) => {
    expect(formatGrid(amount)).toBe(text);
  });

  it("shows rates per unit-hour", () => {
    expect(formatRate({ meter: "gpu_ms", price: (5n * GRID) / 2n, per: HOUR_MS })).toBe("2.5 GRID/GPU-h");
    expect(formatRate({ meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS })).toBe("0.02 GRID/core-h");
    expect(formatRate({ meter: "mem_mib_ms", price: GRID, per: HOUR_MS * 1024n })).toBe("1 GRID/GiB-h");
    expect(formatRate({ meter: "gpu_ms", price: 9000n, per: 1000n })).toBe("0.0000000000324 GRID/GPU-h");
  });

  it.each([
    [850, "850 ms"],
    [12_340, "12.3 s"],
    [250_000, "4 min 10 s"],
    [3_600_000, "1 h"],
    [(2 * 86_400 + 3 * 3600 + 59) * 1000, "2 d 3 h"],
    [343_341 * 60_000 + 18_000, "238 d 10 h"],
  ])("formatDuration(%s) = %s", (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });

  it("parses durations people type", () => {
    expect(parseDurationS("90", "--x")).toBe(90);
    expect(parseDurationS("15m", "--x")).toBe(900);
    expect(parseDurationS("2h", "--x")).toBe(7200);
    expect(parseDurationS("1d", "--x")).toBe(86_400);
    expect(() => parseDurationS("soon", "--x")).toThrow(/--x takes a duration/);
  });
});
