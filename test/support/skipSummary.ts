import type { Reporter, TestModule } from "vitest/node";

/**
 * Prints one line per reason tests were skipped for (a component this machine lacks, e.g. Docker or
 * bubblewrap), with how many, after the run: `skipped 42 tests: no Docker Engine at …`.
 */
export default class SkipSummary implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const byReason = new Map<string, number>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state !== "skipped") continue;
        const reason = result.note ?? "skipped in the code";
        byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
      }
    }
    for (const [reason, count] of byReason) {
      process.stdout.write(`skipped ${count} test${count === 1 ? "" : "s"}: ${reason}\n`);
    }
  }
}
