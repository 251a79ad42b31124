import { describe, expect, it } from "vitest";
import type { Decline } from "../../../marketplace/messages/bid.ts";
import { summarizeDeclines } from "../../../marketplace/order/explainDeclines.ts";
import { addr } from "./offers.ts";

const declines = (...reasons: Decline["reason"][]): Decline[] =>
  reasons.map((reason, i) => ({ orderId: "order-0001", provider: addr(i + 1), reason, detail: "" }));

describe("summarizeDeclines", () => {
  it("counts who saw the order and why the others did not bid, most frequent reason first", () => {
    const s = summarizeDeclines({
      bids: 3,
      declines: declines(
        "price-above-max",
        "gpu-class",
        "gpu-class",
        "price-above-max",
        "gpu-class",
        "price-above-max",
        "gpu-class",
        "gpu-class",
        "price-above-max",
      ),
    });
    expect(s.text).toBe("12 providers saw the order: 5 gpu-class, 4 price-above-max, 3 bid");
    expect(s).toMatchObject({ seen: 12, bids: 3, backedOut: 0, failed: 0 });
    expect(s.reasons).toEqual([
      { reason: "gpu-class", count: 5 },
      { reason: "price-above-max", count: 4 },
    ]);
  });

  it("says when bidders backed out because another order took the capacity, or stopped answering", () => {
    expect(summarizeDeclines({ bids: 1, declines: [], backedOut: 1 }).text).toBe(
      "1 provider saw the order: 1 bid (1 then no-capacity: taken by another order since the bid)",
    );
    expect(summarizeDeclines({ bids: 2, declines: declines("no-capacity"), failed: 1 }).text).toBe(
      "3 providers saw the order: 1 no-capacity, 2 bid (1 stopped answering)",
    );
  });

  it("never leaves an empty auction unexplained", () => {
    const s = summarizeDeclines({ bids: 0, declines: [] });
    expect(s.seen).toBe(0);
    expect(s.text).toMatch(/^No provider answered: .*--explain/);
  });
});
