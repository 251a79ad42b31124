import { type Address, type Hex, hashTypedData, keccak256, type LocalAccount, stringToBytes } from "viem";
import { z } from "zod";
import { recoverSigner } from "../chain/recoverSigner.ts";
import { toJson } from "./json.ts";
import { address, hex, peerIdText } from "./primitives.ts";

/**
 * Every market message travels in an Envelope: the JSON payload as the exact string that was
 * signed, and an EIP-712 signature by the sender's Ethereum key over {kind, from, peerId, expiresAt,
 * keccak256(payload)}. The domain (name `gridspot-market`, version `1`, chain id) makes a signature
 * worthless on another chain; `peerId` binds the libp2p peer that sent it to the key that signed.
 * Carrying the payload as the signed string means no canonical-JSON step can disagree between sides.
 */
export const MARKET_DOMAIN = { name: "gridspot-market", version: "1" } as const;

export const MARKET_MESSAGE_TYPES = {
  MarketMessage: [
    { name: "kind", type: "string" },
    { name: "from", type: "address" },
    { name: "peerId", type: "string" },
    { name: "expiresAt", type: "uint64" },
    { name: "payloadHash", type: "bytes32" },
  ],
} as const;

export const MESSAGE_KINDS = [
  "CapacityOffer",
  "JobOrder",
  "Bid",
  "Decline",
  "BidAnswer",
  "Agreement",
  "JobStart",
  "JobAttach",
  "DebitNote",
] as const;
export type MessageKind = (typeof MESSAGE_KINDS)[number];

export const envelope = z.object({
  kind: z.enum(MESSAGE_KINDS),
  from: address,
  peerId: peerIdText,
  /** Unix seconds. */
  expiresAt: z.number().int().positive(),
  payload: z.string(),
  signature: hex,
});
export type Envelope = z.infer<typeof envelope>;

export type SignEnvelopeParameters = {
  chainId: number;
  kind: MessageKind;
  peerId: string;
  expiresAt: number;
  payload: unknown;
};

export async function signEnvelope(
  account: LocalAccount,
  parameters: SignEnvelopeParameters,
): Promise<Envelope> {
  const payload = toJson(parameters.payload);
  const signature = await account.signTypedData({
    domain: { ...MARKET_DOMAIN, chainId: parameters.chainId },
    types: MARKET_MESSAGE_TYPES,
    primaryType: "MarketMessage",
    message: {
      kind: parameters.kind,
      from: account.address,
      peerId: parameters.peerId,
      expiresAt: BigInt(parameters.expiresAt),
      payloadHash: keccak256(stringToBytes(payload)),
    },
  });
  return {
    kind: parameters.kind,
    from: account.address,
    peerId: parameters.peerId,
    expiresAt: parameters.expiresAt,
    payload,
    signature,
  };
}

export type OpenEnvelopeParameters<T extends z.ZodTypeAny> = {
  chainId: number;
  kind: MessageKind;
  schema: T;
  /** Unix seconds; defaults to the wall clock. */
  now?: number;
  /** The libp2p peer the message came from, when known: it must be the one the sender signed. */
  peerId?: string;
  /** A payload field that must hold the signer's address (e.g. `provider` in an offer). */
  signerField?: string;
};

/** Why a message was refused. `stale` maps to gossip Ignore; everything else to Reject. */
export type EnvelopeRejection =
  | "malformed"
  | "wrong-kind"
  | "bad-signature"
  | "peer-mismatch"
  | "schema"
  | "stale";

export type OpenedEnvelope<T> =
  | { ok: true; value: T; envelope: Envelope }
  | { ok: false; reason: EnvelopeRejection; detail: string };

/**
 * Validates shape, kind, expiry, peer binding, signature, payload schema, the payload's peer id and
 * signer field, in that order.
 */
export async function openEnvelope<T extends z.ZodTypeAny>(
  raw: unknown,
  parameters: OpenEnvelopeParameters<T>,
): Promise<OpenedEnvelope<z.output<T>>> {
  const parsed = envelope.safeParse(raw);
  if (!parsed.success) return { ok: false, reason: "malformed", detail: summarizeZodError(parsed.error) };
  const env = parsed.data;
  if (env.kind !== parameters.kind) {
    return { ok: false, reason: "wrong-kind", detail: `expected ${parameters.kind}, got ${env.kind}` };
  }
  const now = parameters.now ?? Math.floor(Date.now() / 1000);
  if (env.expiresAt <= now) return { ok: false, reason: "stale", detail: `expired at ${env.expiresAt}` };
  if (parameters.peerId !== undefined && env.peerId !== parameters.peerId) {
    return {
      ok: false,
      reason: "peer-mismatch",
      detail: `signed for ${env.peerId}, sent by ${parameters.peerId}`,
    };
  }
  let signer: Address;
  try {
    const digest = hashTypedData({
      domain: { ...MARKET_DOMAIN, chainId: parameters.chainId },
      types: MARKET_MESSAGE_TYPES,
      primaryType: "MarketMessage",
      message: {
        kind: env.kind,
        from: env.from,
        peerId: env.peerId,
        expiresAt: BigInt(env.expiresAt),
        payloadHash: keccak256(stringToBytes(env.payload)),
      },
    });
    signer = recoverSigner(digest, env.signature as Hex);
  } catch (error) {
    return {
      ok: false,
      reason: "bad-signature",
      detail: (error as Error).message.split("\n")[0] ?? "invalid",
    };
  }
  if (signer !== env.from)
    return { ok: false, reason: "bad-signature", detail: `signed by ${signer}, not ${env.from}` };
  let json: unknown;
  try {
    json = JSON.parse(env.payload);
  } catch {
    return { ok: false, reason: "malformed", detail: "payload is not JSON" };
  }
  const value = parameters.schema.safeParse(json);
  if (!value.success) return { ok: false, reason: "schema", detail: summarizeZodError(value.error) };
  // The payload's own peer id (offers, orders and bids name the peer to dial) is the one signed.
  const named = (value.data as Record<string, unknown>).peerId;
  if (typeof named === "string" && named !== env.peerId) {
    return {
      ok: false,
      reason: "peer-mismatch",
      detail: `the payload names ${named}, the envelope ${env.peerId}`,
    };
  }
  if (parameters.signerField !== undefined) {
    const claimed = (value.data as Record<string, unknown>)[parameters.signerField];
    if (claimed !== env.from) {
      return {
        ok: false,
        reason: "bad-signature",
        detail: `${parameters.signerField} ${String(claimed)} did not sign it`,
      };
    }
  }
  return { ok: true, value: value.data, envelope: env };
}

/** One line naming the first problems of a zod error, for logs and CLI messages. */
export function summarizeZodError(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`)
    .join("; ");
}
