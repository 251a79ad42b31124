import { concat, keccak256, stringToBytes } from "viem";
import { describe, expect, it } from "vitest";
import { chainEventsHash, ZERO_HASH } from "../../../node/receipt/eventsHash.ts";

const events = [
  { id: "job-00000001:gpu_ms:0", quantity: 1000n },
  { id: "job-00000001:cpu_core_ms:0", quantity: 250n },
  { id: "job-00000001:mem_mib_ms:0", quantity: 4_096_000n },
];

describe("chainEventsHash", () => {
  it("is keccak256(previous ‖ keccak256(the events as id=quantity lines)), so anyone can recompute it", () => {
    const lines =
      "job-00000001:gpu_ms:0=1000\njob-00000001:cpu_core_ms:0=250\njob-00000001:mem_mib_ms:0=4096000";
    expect(chainEventsHash(ZERO_HASH, events)).toBe(
      keccak256(concat([ZERO_HASH, keccak256(stringToBytes(lines))])),
    );
    expect(chainEventsHash(ZERO_HASH, events)).toBe(
      chainEventsHash(
        ZERO_HASH,
        events.map((e) => ({ ...e })),
      ),
    );
  });

  it("changes when any event's quantity or id changes", () => {
    const base = chainEventsHash(ZERO_HASH, events);
    for (let i = 0; i < events.length; i++) {
      const more = events.map((e, j) => (j === i ? { ...e, quantity: e.quantity + 1n } : e));
      const renamed = events.map((e, j) => (j === i ? { ...e, id: `${e.id}0` } : e));
      expect(chainEventsHash(ZERO_HASH, more)).not.toBe(base);
      expect(chainEventsHash(ZERO_HASH, renamed)).not.toBe(base);
    }
  });

  it("changes when an event is dropped, added, or the order changes", () => {
    const base = chainEventsHash(ZERO_HASH, events);
    const hashes = [
      chainEventsHash(ZERO_HASH, events.slice(1)),
      chainEventsHash(ZERO_HASH, events.slice(0, -1)),
      chainEventsHash(ZERO_HASH, [...events, { id: "job-00000001:gpu_ms:1", quantity: 0n }]),
      chainEventsHash(ZERO_HASH, [...events].reverse()),
      chainEventsHash(ZERO_HASH, []),
    ];
    expect(new Set([base, ...hashes]).size).toBe(hashes.length + 1);
  });

  it("chains: a change in an earlier note changes every later hash", () => {
    const later = [{ id: "job-00000001:gpu_ms:1", quantity: 5n }];
    const honest = chainEventsHash(chainEventsHash(ZERO_HASH, events), later);
    const rewritten = chainEventsHash(
      chainEventsHash(
        ZERO_HASH,
        events.map((e, i) => (i === 0 ? { ...e, quantity: 999n } : e)),
      ),
      later,
    );
    expect(rewritten).not.toBe(honest);
    // Which note billed which event is part of the chain too.
    const regrouped = chainEventsHash(
      chainEventsHash(ZERO_HASH, events.slice(0, 2)),
      [events[2], ...later].filter((e) => e !== undefined),
    );
    expect(regrouped).not.toBe(honest);
  });

  it("advances even when a note bills no new events", () => {
    const first = chainEventsHash(ZERO_HASH, events);
    const empty = chainEventsHash(first, []);
    expect(empty).not.toBe(first);
    expect(chainEventsHash(empty, [])).not.toBe(empty);
    expect(empty).toMatch(/^0x[0-9a-f]{64}$/);
  });
});
