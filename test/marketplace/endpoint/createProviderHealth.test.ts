import { describe, expect, it } from "vitest";
import { PROVIDER_DOWN_MAX_MS, PROVIDER_DOWN_MS } from "../../../marketplace/endpoint/constants.ts";
import { createProviderHealth } from "../../../marketplace/endpoint/createProviderHealth.ts";

describe("createProviderHealth", () => {
  it("puts a failing provider last for a backoff that doubles to the maximum, and back at once when it answers", () => {
    let now = 1_000_000;
    const health = createProviderHealth(() => now);
    expect(health.downUntil("a")).toBe(0);
    health.failed("a", "stream closed");
    expect(health.downUntil("a")).toBe(now + PROVIDER_DOWN_MS);
    health.failed("a", "stream closed");
    expect(health.downUntil("a")).toBe(now + 2 * PROVIDER_DOWN_MS);
    for (let i = 0; i < 10; i++) health.failed("a", "unreachable");
    expect(health.downUntil("a")).toBe(now + PROVIDER_DOWN_MAX_MS);
    expect(health.down()).toEqual([{ peer: "a", until: now + PROVIDER_DOWN_MAX_MS, why: "unreachable" }]);
    now += PROVIDER_DOWN_MAX_MS + 1;
    expect(health.down()).toEqual([]);
    health.answered("a");
    health.failed("a", "again");
    expect(health.downUntil("a")).toBe(now + PROVIDER_DOWN_MS);
  });
});
