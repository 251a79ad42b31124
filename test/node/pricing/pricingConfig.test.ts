import { describe, expect, it } from "vitest";
import { UsageError } from "../../../marketplace/errors/usage.ts";
import { parseProviderConfig } from "../../../node/config/providerConfig.ts";

const GRID = 10n ** 18n;
const curve = {
  base: "3000000000000000000",
  floor: "2000000000000000000",
  ceiling: "5000000000000000000",
  targetUtilization: 7000,
  maxStep: 1250,
};

describe("provider config: pricing.dynamic", () => {
  it("is absent by default: fixed prices", () => {
    expect(parseProviderConfig({}).pricing.dynamic).toBeUndefined();
  });

  it("reads curves per GPU class, cpu and mem, with a default epoch of a minute", () => {
    const config = parseProviderConfig({
      pricing: { dynamic: { curves: { "nvidia-h100-80gb": curve, cpu: { ...curve, base: curve.floor } } } },
    });
    expect(config.pricing.dynamic).toEqual({
      epochMs: 60_000,
      curves: {
        "nvidia-h100-80gb": {
          base: 3n * GRID,
          floor: 2n * GRID,
          ceiling: 5n * GRID,
          targetUtilizationBps: 7000,
          maxStepBps: 1250,
        },
        cpu: {
          base: 2n * GRID,
          floor: 2n * GRID,
          ceiling: 5n * GRID,
          targetUtilizationBps: 7000,
          maxStepBps: 1250,
        },
      },
    });
  });

  it.each([
    ["a base below the floor", { curves: { cpu: { ...curve, base: "1" } } }, "floor ≤ base ≤ ceiling"],
    ["a floor of zero", { curves: { cpu: { ...curve, floor: "0", base: "0" } } }, "floor must be positive"],
    [
      "a target above 100 %",
      { curves: { cpu: { ...curve, targetUtilization: 10_001 } } },
      "targetUtilization",
    ],
    ["a step of 0", { curves: { cpu: { ...curve, maxStep: 0 } } }, "maxStep"],
    ["an unknown resource", { curves: { gpu: curve } }, "expected a GPU class, cpu or mem"],
    ["a misspelt key", { curves: { cpu: { ...curve, maxStepBps: 1 } } }, "maxStepBps"],
    ["an epoch under a second", { epochMs: 10, curves: {} }, "epochMs"],
  ])("refuses %s", (_what, dynamic, message) => {
    expect(() => parseProviderConfig({ pricing: { dynamic } })).toThrow(UsageError);
    try {
      parseProviderConfig({ pricing: { dynamic } });
    } catch (error) {
      expect((error as UsageError).details).toContain(message);
    }
  });
});
