import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { type Envelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { CapacityOffer } from "../../../marketplace/messages/offer.ts";
import { validateOffer } from "../../../marketplace/offer/validateOffer.ts";
import { MAX_GOSSIP_MESSAGE_BYTES } from "../../../marketplace/p2p/constants.ts";
import { offer, PEER_A, PEER_B, PROVIDER_KEY, SUBMITTER_KEY } from "../messages/fixtures.ts";

const CHAIN_ID = 31337;
const NOW_S = 1_700_000_000;
const provider = privateKeyToAccount(PROVIDER_KEY);
const stranger = privateKeyToAccount(SUBMITTER_KEY);

const sign = (
  payload: unknown,
  o: {
    account?: typeof provider;
    peerId?: string;
    expiresAt?: number;
    chainId?: number;
    kind?: "JobOrder";
  } = {},
) =>
  signEnvelope(o.account ?? provider, {
    chainId: o.chainId ?? CHAIN_ID,
    kind: o.kind ?? "CapacityOffer",
    peerId: o.peerId ?? PEER_A,
    expiresAt: o.expiresAt ?? NOW_S + 90,
    payload,
  });

const bytes = (value: unknown) =>
  new TextEncoder().encode(typeof value === "string" ? value : JSON.stringify(value));

function check(data: Uint8Array, o: { held?: number } = {}) {
  return validateOffer({ chainId: CHAIN_ID, now: NOW_S, seqOf: () => o.held }, { data });
}

describe("validateOffer", () => {
  it("accepts a signed offer naming the peer its envelope names, with the envelope's expiry", async () => {
    const verdict = await check(bytes(await sign(offer)));
    expect(verdict).toEqual({ result: "accept", offer, expiresAt: NOW_S + 90 });
  });

  it.each([
    ["bytes that are not JSON", async () => check(bytes("{not json")), "not JSON"],
    ["bytes that are not UTF-8", async () => check(Uint8Array.from([0xff, 0xfe, 0x7b])), "not JSON"],
    ["JSON that is not an envelope", async () => check(bytes({ hello: 1 })), "malformed"],
    [
      "another kind of message",
      async () => check(bytes(await sign(offer, { kind: "JobOrder" }))),
      "wrong-kind",
    ],
    [
      "a payload that is not a CapacityOffer",
      async () => check(bytes(await sign({ ...offer, resources: "many" }))),
      "schema",
    ],
    [
      "an envelope signed on another chain",
      async () => check(bytes(await sign(offer, { chainId: 1 }))),
      "bad-signature",
    ],
    [
      "a payload changed after signing",
      async () => {
        const env = await sign(offer);
        const forged: Envelope = { ...env, payload: env.payload.replace('"free":1', '"free":2') };
        return check(bytes(forged));
      },
      "bad-signature",
    ],
    [
      "an offer for a provider that did not sign it",
      async () => check(bytes(await sign(offer, { account: stranger }))),
      "bad-signature",
    ],
    [
      "an envelope signed for another peer than the offer names",
      async () => check(bytes(await sign(offer, { peerId: PEER_B }))),
      "peer-mismatch",
    ],
    [
      "an offer naming another peer than its envelope",
      async () => check(bytes(await sign({ ...offer, peerId: PEER_B }))),
      "peer-mismatch",
    ],
  ] as const)("rejects %s", async (_what, run, reason) => {
    const verdict = await run();
    expect(verdict.result).toBe("reject");
    if (verdict.result !== "accept") expect(verdict.reason).toContain(reason);
  });

  it("rejects a message above the gossip size limit before parsing it", async () => {
    const padded: CapacityOffer = {
      ...offer,
      addrs: Array.from({ length: 16 }, () => `/dns4/${"x".repeat(240)}`),
    };
    const env = await sign(padded);
    const data = bytes({ ...env, padding: "y".repeat(MAX_GOSSIP_MESSAGE_BYTES) });
    expect(data.byteLength).toBeGreaterThan(MAX_GOSSIP_MESSAGE_BYTES);
    expect(await check(data)).toMatchObject({ result: "reject", reason: expect.stringContaining("larger") });
  });

  it("ignores an expired offer and one not newer than the offer held", async () => {
    expect(await check(bytes(await sign(offer, { expiresAt: NOW_S })))).toMatchObject({ result: "ignore" });
    const data = bytes(await sign(offer));
    expect(await check(data, { held: offer.seq })).toMatchObject({ result: "ignore" });
    expect(await check(data, { held: offer.seq + 1 })).toMatchObject({ result: "ignore" });
    expect(await check(data, { held: offer.seq - 1 })).toMatchObject({ result: "accept" });
  });
});
