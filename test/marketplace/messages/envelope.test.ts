import { keccak256, stringToBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { agreement as agreementSchema } from "../../../marketplace/messages/agreement.ts";
import { bidAnswer, bid as bidSchema, decline as declineSchema } from "../../../marketplace/messages/bid.ts";
import {
  type Envelope,
  MARKET_DOMAIN,
  MARKET_MESSAGE_TYPES,
  type MessageKind,
  openEnvelope,
  signEnvelope,
} from "../../../marketplace/messages/envelope.ts";
import { jobStart as jobStartSchema } from "../../../marketplace/messages/job.ts";
import { capacityOffer } from "../../../marketplace/messages/offer.ts";
import { jobOrder } from "../../../marketplace/messages/order.ts";
import { debitNote as debitNoteSchema } from "../../../marketplace/messages/receipt.ts";
import {
  accept,
  agreement,
  bid,
  debitNote,
  decline,
  jobStart,
  offer,
  order,
  PEER_A,
  PEER_B,
  PROVIDER_KEY,
  SUBMITTER,
  SUBMITTER_KEY,
} from "./fixtures.ts";

const provider = privateKeyToAccount(PROVIDER_KEY);
const submitter = privateKeyToAccount(SUBMITTER_KEY);
const CHAIN_ID = 31337;
const NOW = 1_700_000_000;

const KINDS: [MessageKind, z.ZodTypeAny, unknown][] = [
  ["CapacityOffer", capacityOffer, offer],
  ["JobOrder", jobOrder, order],
  ["Bid", bidSchema, bid],
  ["Decline", declineSchema, decline],
  ["BidAnswer", bidAnswer, accept],
  ["Agreement", agreementSchema, agreement],
  ["JobStart", jobStartSchema, jobStart],
  ["DebitNote", debitNoteSchema, debitNote],
];

function signBid(overrides: Partial<Parameters<typeof signEnvelope>[1]> = {}) {
  return signEnvelope(provider, {
    chainId: CHAIN_ID,
    kind: "Bid",
    peerId: PEER_A,
    expiresAt: NOW + 60,
    payload: bid,
    ...overrides,
  });
}

function openBid(raw: unknown, overrides: Partial<Parameters<typeof openEnvelope>[1]> = {}) {
  return openEnvelope(raw, { chainId: CHAIN_ID, kind: "Bid", schema: bidSchema, now: NOW, ...overrides });
}

describe("signEnvelope / openEnvelope", () => {
  it.each(KINDS)("round-trips a %s through its schema, bigints included", async (kind, schema, payload) => {
    // A payload that names a peer (offer, order, bid) is sent by that peer.
    const peerId = (payload as { peerId?: string }).peerId ?? PEER_A;
    const env = await signEnvelope(provider, {
      chainId: CHAIN_ID,
      kind,
      peerId,
      expiresAt: NOW + 1,
      payload,
    });
    expect(env.from).toBe(provider.address);
    // What travels is plain JSON: the envelope survives a serialise/parse trip unchanged.
    const wire = JSON.parse(JSON.stringify(env)) as unknown;
    const opened = await openEnvelope(wire, { chainId: CHAIN_ID, kind, schema, now: NOW, peerId });
    expect(opened).toEqual({ ok: true, value: schema.parse(payload), envelope: env });
  });

  it("gives back the payload's bigints as bigints", async () => {
    const env = await signEnvelope(provider, {
      chainId: CHAIN_ID,
      kind: "DebitNote",
      peerId: PEER_A,
      expiresAt: NOW + 60,
      payload: debitNote,
    });
    expect(env.payload).toContain('"jobAmount":"5777777777777777"');
    const opened = await openEnvelope(env, {
      chainId: CHAIN_ID,
      kind: "DebitNote",
      schema: debitNoteSchema,
      now: NOW,
    });
    if (!opened.ok) throw new Error(opened.detail);
    expect(opened.value.jobAmount).toBe(5_777_777_777_777_777n);
    expect(opened.value.channelId).toBe(7n);
    expect(opened.value.usage[0]?.quantity).toBe(10_000n);
  });

  it("accepts the signer's address in the signer field", async () => {
    const opened = await openBid(await signBid(), { signerField: "provider" });
    expect(opened.ok).toBe(true);
  });
});

describe("openEnvelope refuses", () => {
  it.each([
    ["a string", "hello"],
    ["null", null],
    [
      "an envelope without a signature",
      { kind: "Bid", from: SUBMITTER, peerId: PEER_A, expiresAt: NOW + 1, payload: "{}" },
    ],
    [
      "an unknown kind",
      { kind: "Offer", from: SUBMITTER, peerId: PEER_A, expiresAt: NOW + 1, payload: "{}", signature: "0x" },
    ],
    [
      "a bad sender address",
      { kind: "Bid", from: "0x1234", peerId: PEER_A, expiresAt: NOW + 1, payload: "{}", signature: "0x" },
    ],
    [
      "a non-integer expiry",
      { kind: "Bid", from: SUBMITTER, peerId: PEER_A, expiresAt: 1.5, payload: "{}", signature: "0x" },
    ],
    [
      "a bad peer id",
      { kind: "Bid", from: SUBMITTER, peerId: "peer", expiresAt: NOW + 1, payload: "{}", signature: "0x" },
    ],
    [
      "a signature that is not hex",
      { kind: "Bid", from: SUBMITTER, peerId: PEER_A, expiresAt: NOW + 1, payload: "{}", signature: "zz" },
    ],
  ])("%s as malformed", async (_name, raw) => {
    const opened = await openBid(raw);
    expect(opened.ok).toBe(false);
    if (!opened.ok) expect(opened.reason).toBe("malformed");
  });

  it("a correctly signed payload that is not JSON as malformed", async () => {
    const payload = "{not json";
    const signature = await provider.signTypedData({
      domain: { ...MARKET_DOMAIN, chainId: CHAIN_ID },
      types: MARKET_MESSAGE_TYPES,
      primaryType: "MarketMessage",
      message: {
        kind: "Bid",
        from: provider.address,
        peerId: PEER_A,
        expiresAt: BigInt(NOW + 60),
        payloadHash: keccak256(stringToBytes(payload)),
      },
    });
    const raw: Envelope = {
      kind: "Bid",
      from: provider.address,
      peerId: PEER_A,
      expiresAt: NOW + 60,
      payload,
      signature,
    };
    expect(await openBid(raw)).toEqual({ ok: false, reason: "malformed", detail: "payload is not JSON" });
  });

  it("another kind than expected as wrong-kind", async () => {
    const env = await signBid();
    const opened = await openEnvelope(env, {
      chainId: CHAIN_ID,
      kind: "Decline",
      schema: declineSchema,
      now: NOW,
    });
    expect(opened).toMatchObject({ ok: false, reason: "wrong-kind", detail: "expected Decline, got Bid" });
  });

  it("an expired message as stale, from the second it expires", async () => {
    const env = await signBid({ expiresAt: NOW + 10 });
    expect((await openBid(env, { now: NOW + 9 })).ok).toBe(true);
    expect(await openBid(env, { now: NOW + 10 })).toMatchObject({ ok: false, reason: "stale" });
    expect(await openBid(env, { now: NOW + 1000 })).toMatchObject({ ok: false, reason: "stale" });
  });

  it("a stale message as stale before looking at its signature (gossip Ignore, not Reject)", async () => {
    const env = await signBid({ expiresAt: NOW });
    const opened = await openBid({ ...env, signature: `0x${"11".repeat(65)}` });
    expect(opened).toMatchObject({ ok: false, reason: "stale" });
  });

  it("a tampered payload as bad-signature", async () => {
    const env = await signBid();
    const tampered = {
      ...env,
      payload: env.payload.replace('"orderId":"order-0001"', '"orderId":"order-0002"'),
    };
    expect(tampered.payload).not.toBe(env.payload);
    expect(await openBid(tampered)).toMatchObject({ ok: false, reason: "bad-signature" });
  });

  it("a signature made for another chain as bad-signature", async () => {
    const env = await signBid({ chainId: 1 });
    expect(await openBid(env)).toMatchObject({ ok: false, reason: "bad-signature" });
    expect((await openBid(env, { chainId: 1 })).ok).toBe(true);
  });

  it("a forged sender as bad-signature", async () => {
    const env = await signBid();
    const opened = await openBid({ ...env, from: submitter.address });
    expect(opened).toMatchObject({ ok: false, reason: "bad-signature" });
    if (!opened.ok) expect(opened.detail).toContain(`not ${submitter.address}`);
  });

  it("a changed expiry or peer id as bad-signature (both are signed)", async () => {
    const env = await signBid();
    expect(await openBid({ ...env, expiresAt: env.expiresAt + 3600 })).toMatchObject({
      reason: "bad-signature",
    });
    expect(await openBid({ ...env, peerId: PEER_B })).toMatchObject({ reason: "bad-signature" });
  });

  it("a signature that recovers to nothing as bad-signature", async () => {
    const env = await signBid();
    expect(await openBid({ ...env, signature: "0x1234" })).toMatchObject({
      ok: false,
      reason: "bad-signature",
    });
  });

  it("a message from another peer than the one that signed as peer-mismatch", async () => {
    const env = await signBid();
    expect(await openBid(env, { peerId: PEER_B })).toMatchObject({
      ok: false,
      reason: "peer-mismatch",
      detail: `signed for ${PEER_A}, sent by ${PEER_B}`,
    });
  });

  it("a payload naming another peer than its envelope as peer-mismatch", async () => {
    const env = await signBid({ payload: { ...bid, peerId: PEER_B } });
    expect(await openBid(env)).toMatchObject({
      ok: false,
      reason: "peer-mismatch",
      detail: `the payload names ${PEER_B}, the envelope ${PEER_A}`,
    });
  });

  it("a signed payload that fails its schema as schema", async () => {
    const env = await signBid({ payload: { ...bid, validUntil: -1 } });
    const opened = await openBid(env);
    expect(opened).toMatchObject({ ok: false, reason: "schema" });
    if (!opened.ok) expect(opened.detail).toContain("validUntil");
  });

  it("a payload whose signer field names someone else as bad-signature", async () => {
    // The provider signs a JobOrder that claims to come from the submitter.
    const env = await signEnvelope(provider, {
      chainId: CHAIN_ID,
      kind: "JobOrder",
      peerId: order.peerId,
      expiresAt: NOW + 60,
      payload: order,
    });
    const opened = await openEnvelope(env, {
      chainId: CHAIN_ID,
      kind: "JobOrder",
      schema: jobOrder,
      now: NOW,
      signerField: "submitter",
    });
    expect(opened).toMatchObject({ ok: false, reason: "bad-signature" });
    if (!opened.ok) expect(opened.detail).toBe(`submitter ${SUBMITTER} did not sign it`);
    // Without the signer check the same message opens: the check is what catches it.
    expect(
      (await openEnvelope(env, { chainId: CHAIN_ID, kind: "JobOrder", schema: jobOrder, now: NOW })).ok,
    ).toBe(true);
  });

  it("a signer field compared after checksumming, so a lower-case address in the payload still matches", async () => {
    const env = await signBid({ payload: { ...bid, provider: provider.address.toLowerCase() } });
    expect((await openBid(env, { signerField: "provider" })).ok).toBe(true);
  });

  it("a missing signer field as bad-signature", async () => {
    const env = await signBid({ payload: bid });
    const opened = await openBid(env, { signerField: "submitter" });
    expect(opened).toMatchObject({
      ok: false,
      reason: "bad-signature",
      detail: "submitter undefined did not sign it",
    });
  });
});
