import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseProcStat } from "../../../node/meter/parseProcStat.ts";

describe("parseProcStat", () => {
  it("counts fields from the last parenthesis, so odd command names parse", () => {
    const line =
      "4242 (evil) (name x) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 31 7 3 20 0 1 0 98765 10000000 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
    expect(parseProcStat(line)).toEqual({
      pid: 4242,
      comm: "evil) (name x",
      state: "S",
      ppid: 17,
      pgid: 4242,
      utime: 250n,
      stime: 31n,
      cutime: 7n,
      cstime: 3n,
      starttime: 98765n,
      rssPages: 2560n,
    });
  });

  it("reads this process's own stat", () => {
    const self = parseProcStat(readFileSync("/proc/self/stat", "utf8"));
    expect(self?.pid).toBeGreaterThan(0);
    expect(self?.ppid).toBe(process.pid === self?.pid ? process.ppid : self?.ppid);
    expect(self?.rssPages).toBeGreaterThan(0n);
  });

  it("returns undefined for text that is not a stat line", () => {
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("12 (x) S 1")).toBeUndefined();
    expect(parseProcStat("12 (x) S a b c d e f g h i j k l m n o p q r s t u v")).toBeUndefined();
  });
});
