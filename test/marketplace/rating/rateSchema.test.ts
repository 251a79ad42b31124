import { describe, expect, it } from "vitest";
import { agreement as agreementSchema } from "../../../marketplace/messages/agreement.ts";
import { toJsonValue } from "../../../marketplace/messages/json.ts";
import { rate } from "../../../marketplace/messages/primitives.ts";
import { rateUsage } from "../../../marketplace/rating/rateUsage.ts";
import { agreement } from "../messages/fixtures.ts";

const tiered = {
  meter: "gpu_ms",
  price: "1000",
  per: "3600000",
  tiers: {
    mode: "graduated",
    bands: [
      { upTo: "36000000", price: "3000" },
      { upTo: "360000000", price: "2000" },
    ],
  },
};

describe("the rate schema", () => {
  it("still accepts a flat rate, as every rate was before tiers", () => {
    expect(rate.parse({ meter: "gpu_ms", price: "2", per: "3600000", gpuClass: "nvidia-h100-80gb" })).toEqual(
      {
        meter: "gpu_ms",
        price: 2n,
        per: 3_600_000n,
        gpuClass: "nvidia-h100-80gb",
      },
    );
  });

  it("parses tiers from the wire and round-trips them through JSON", () => {
    const parsed = rate.parse(tiered);
    expect(parsed.tiers).toEqual({
      mode: "graduated",
      bands: [
        { upTo: 36_000_000n, price: 3_000n },
        { upTo: 360_000_000n, price: 2_000n },
      ],
    });
    expect(rate.parse(toJsonValue(parsed))).toEqual(parsed);
    // What the schema lets through, rating accepts.
    expect(rateUsage({ gpu_ms: 1n }, [parsed], "ms").lines[0]?.tiers).toHaveLength(1);
  });

  it.each([
    [{ ...tiered, tiers: { ...tiered.tiers, mode: "stepped" } }, /mode/],
    [{ ...tiered, tiers: { mode: "volume", bands: [] } }, /bands/],
    [
      { ...tiered, tiers: { mode: "volume", bands: [{ upTo: "0", price: "1" }] } },
      /a tier bound must be positive/,
    ],
    [
      {
        ...tiered,
        tiers: {
          mode: "volume",
          bands: [
            { upTo: "5", price: "1" },
            { upTo: "5", price: "1" },
          ],
        },
      },
      /tier bounds must rise strictly/,
    ],
    [
      {
        ...tiered,
        tiers: {
          mode: "volume",
          bands: Array.from({ length: 17 }, (_, i) => ({ upTo: `${i + 1}`, price: "1" })),
        },
      },
      /bands/,
    ],
    [{ ...tiered, tiers: { mode: "volume", bands: [{ upTo: 5, price: "1" }] } }, /upTo/],
    [{ ...tiered, tiers: { mode: "volume", bands: [{ upTo: "5", price: "-1" }] } }, /price/],
  ])("refuses malformed tiers %#", (input, message) => {
    const result = rate.safeParse(input);
    expect(result.success).toBe(false);
    expect(JSON.stringify(result.error?.issues)).toMatch(message);
  });

  it("keeps the minimum charge beside the rates in the agreement, optional", () => {
    const wire = toJsonValue({ ...agreement, minimumCharge: 5n * 10n ** 17n, rates: [rate.parse(tiered)] });
    const parsed = agreementSchema.parse(wire);
    expect(parsed.minimumCharge).toBe(5n * 10n ** 17n);
    expect(parsed.rates[0]?.tiers?.mode).toBe("graduated");
    expect(agreementSchema.parse(toJsonValue(agreement)).minimumCharge).toBeUndefined();
    expect(agreementSchema.safeParse({ ...(wire as object), minimumCharge: "-1" }).success).toBe(false);
  });
});
