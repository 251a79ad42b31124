import { describe, expect, it } from "vitest";
import { OfferBook } from "../../../marketplace/offer/offerBook.ts";
import { addr, GRID, H100, offerOf, T4 } from "../order/offers.ts";

function clocked() {
  let now = 1_700_000_000_000;
  return {
    book: new OfferBook({ now: () => now }),
    advance: (ms: number) => {
      now += ms;
    },
    nowS: () => Math.floor(now / 1000),
  };
}

describe("OfferBook", () => {
  it("keeps the newest offer of each provider and drops duplicates and older ones", () => {
    const { book, nowS } = clocked();
    const p = addr(1);
    expect(book.add(offerOf(p, { seq: 5 }), nowS() + 90)).toBe(true);
    expect(book.add(offerOf(p, { seq: 5 }), nowS() + 90)).toBe(false);
    expect(book.add(offerOf(p, { seq: 4 }), nowS() + 90)).toBe(false);
    expect(book.seqOf(p)).toBe(5);
    // The same provider written in another case is the same provider.
    expect(
      book.add(offerOf(p.toUpperCase().replace("0X", "0x") as `0x${string}`, { seq: 6 }), nowS() + 90),
    ).toBe(true);
    expect(book.offers().map((e) => e.offer.seq)).toEqual([6]);
    expect(book.size).toBe(1);
  });

  it("drops offers when their envelope expires, and takes any seq after that", () => {
    const { book, advance, nowS } = clocked();
    const p = addr(1);
    book.add(offerOf(p, { seq: 9 }), nowS() + 90);
    expect(book.add(offerOf(addr(2)), nowS())).toBe(false); // already expired
    advance(89_999);
    expect(book.size).toBe(1);
    advance(1);
    expect(book.offers()).toEqual([]);
    expect(book.seqOf(p)).toBeUndefined();
    // A restarted provider whose clock went back is heard again once its old offer is gone.
    expect(book.add(offerOf(p, { seq: 3 }), nowS() + 90)).toBe(true);
  });

  it("filters by GPU class, orders by provider and remembers when an offer last came in", () => {
    const { book, advance, nowS } = clocked();
    expect(book.lastAddedAt).toBeUndefined();
    book.add(offerOf(addr(3), { gpus: [{ class: H100, count: 2, price: GRID }] }), nowS() + 90);
    advance(500);
    book.add(offerOf(addr(1), { gpus: [{ class: T4, count: 1, price: GRID }] }), nowS() + 90);
    book.add(offerOf(addr(2)), nowS() + 90);
    expect(book.lastAddedAt).toBe(1_700_000_000_500);
    expect(book.offers().map((e) => e.offer.provider)).toEqual([addr(1), addr(2), addr(3)]);
    expect(book.offers({ gpuClass: H100 }).map((e) => e.offer.provider)).toEqual([addr(3)]);
    expect(book.offers({ gpuClass: "nvidia-l4-24gb" })).toEqual([]);
    expect(book.offers()[2]?.receivedAt).toBe(1_700_000_000_000);
  });
});
