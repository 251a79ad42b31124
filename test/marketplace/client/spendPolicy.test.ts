import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_SPEND_POLICY, readSpendPolicy } from "../../../marketplace/client/spendPolicy.ts";
import { UsageError } from "../../../marketplace/errors/usage.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-policy-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const write = (policy: unknown) =>
  writeFileSync(join(dir, "policy.json"), typeof policy === "string" ? policy : JSON.stringify(policy));

describe("readSpendPolicy", () => {
  it("gives no caps and the 50/80/100 % alerts without a policy file", async () => {
    expect(await readSpendPolicy(dir)).toEqual(DEFAULT_SPEND_POLICY);
    expect(DEFAULT_SPEND_POLICY.alerts.thresholds).toEqual([50, 80, 100]);
  });

  it("reads caps in base units and alerts, sorting and de-duplicating the thresholds", async () => {
    write({
      dailyCap: "20000000000000000000",
      channelCap: "5",
      alerts: { thresholds: [100, 25, 25], webhook: "https://hooks.example/gridspot" },
    });
    expect(await readSpendPolicy(dir)).toEqual({
      dailyCap: 20n * 10n ** 18n,
      channelCap: 5n,
      alerts: { thresholds: [25, 100], webhook: "https://hooks.example/gridspot" },
    });
  });

  it("keeps the default thresholds when only a webhook is set, and allows none at all", async () => {
    write({ alerts: { webhook: "http://127.0.0.1:9/x" } });
    expect((await readSpendPolicy(dir)).alerts).toEqual({
      thresholds: [50, 80, 100],
      webhook: "http://127.0.0.1:9/x",
    });
    write({ alerts: { thresholds: [] } });
    expect((await readSpendPolicy(dir)).alerts.thresholds).toEqual([]);
  });

  it.each([
    ["{ not json", /is not valid JSON/],
    [{ dailyCap: 5 }, /dailyCap: Expected string/],
    [{ dailyCap: "1.5" }, /dailyCap: expected a non-negative integer/],
    [{ dailycap: "5" }, /Unrecognized key/],
    [{ alerts: { thresholds: [0] } }, /alerts.thresholds.0/],
    [{ alerts: { thresholds: [101] } }, /alerts.thresholds.0/],
    [{ alerts: { webhook: "ftp://example.com/x" } }, /the webhook must be an http\(s\) URL/],
    [{ alerts: { webhook: "not a url" } }, /alerts.webhook/],
  ])("refuses a bad policy %j with a usage error naming the file", async (policy, message) => {
    write(policy);
    const error = await readSpendPolicy(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toContain(join(dir, "policy.json"));
  });
});
