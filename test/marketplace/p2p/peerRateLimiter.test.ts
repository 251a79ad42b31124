import { describe, expect, it } from "vitest";
import { createPeerRateLimiter } from "../../../marketplace/p2p/peerRateLimiter.ts";

/** A clock the test moves by hand, in milliseconds. */
function manualClock() {
  let now = 0;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const takeN = (limiter: { take(peer: string): boolean }, peer: string, n: number) =>
  Array.from({ length: n }, () => limiter.take(peer)).filter(Boolean).length;

describe("createPeerRateLimiter", () => {
  it("lets a fresh peer spend its whole burst at once, then refuses", () => {
    const clock = manualClock();
    const limiter = createPeerRateLimiter({ ratePerS: 5, burst: 10, now: clock.now });
    expect(takeN(limiter, "a", 15)).toBe(10);
    expect(limiter.take("a")).toBe(false);
  });

  it("refills at the rate, never above the burst", () => {
    const clock = manualClock();
    const limiter = createPeerRateLimiter({ ratePerS: 5, burst: 10, now: clock.now });
    takeN(limiter, "a", 10);
    clock.advance(199);
    expect(limiter.take("a")).toBe(false); // 0.995 of a token
    clock.advance(1);
    expect(limiter.take("a")).toBe(true);
    expect(limiter.take("a")).toBe(false);
    clock.advance(1_000);
    expect(takeN(limiter, "a", 10)).toBe(5);
    clock.advance(60_000);
    expect(takeN(limiter, "a", 20)).toBe(10);
  });

  it("refused attempts cost nothing", () => {
    const clock = manualClock();
    const limiter = createPeerRateLimiter({ ratePerS: 1, burst: 1, now: clock.now });
    expect(limiter.take("a")).toBe(true);
    for (let i = 0; i < 100; i++) {
      clock.advance(9);
      limiter.take("a");
    }
    // 900 ms later, still refused; 100 ms more make one token despite the hundred refusals.
    expect(limiter.take("a")).toBe(false);
    clock.advance(100);
    expect(limiter.take("a")).toBe(true);
  });

  it("keeps one bucket per peer", () => {
    const clock = manualClock();
    const limiter = createPeerRateLimiter({ ratePerS: 1, burst: 2, now: clock.now });
    expect(takeN(limiter, "a", 5)).toBe(2);
    expect(takeN(limiter, "b", 5)).toBe(2);
    expect(limiter.size).toBe(2);
  });

  it("remembers at most maxPeers, forgetting the idlest (which only hands it a full bucket)", () => {
    const clock = manualClock();
    const limiter = createPeerRateLimiter({ ratePerS: 1, burst: 1, maxPeers: 3, now: clock.now });
    for (const peer of ["a", "b", "c"]) limiter.take(peer);
    limiter.take("a"); // refused, but "a" is now the most recently seen
    limiter.take("d"); // makes room by forgetting "b", the idlest
    expect(limiter.size).toBe(3);
    expect(limiter.take("c")).toBe(false);
    expect(limiter.take("a")).toBe(false);
    expect(limiter.take("b")).toBe(true); // forgotten: starts again with a full bucket
  });

  it("refuses nonsensical limits", () => {
    expect(() => createPeerRateLimiter({ ratePerS: 0, burst: 1 })).toThrow(RangeError);
    expect(() => createPeerRateLimiter({ ratePerS: 1, burst: 0.5 })).toThrow(RangeError);
    expect(() => createPeerRateLimiter({ ratePerS: Number.NaN, burst: 1 })).toThrow(RangeError);
  });
});
