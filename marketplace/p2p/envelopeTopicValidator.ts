import { type Message, type TopicValidatorFn, TopicValidatorResult } from "@libp2p/gossipsub";
import type { z } from "zod";
import { type MessageKind, type OpenedEnvelope, openEnvelope } from "../messages/envelope.ts";

export type EnvelopeTopicValidatorParameters<T extends z.ZodTypeAny> = {
  chainId: number;
  kind: MessageKind;
  schema: T;
  /** The payload field that must name the signer (`provider` in an offer, `submitter` in an order). */
  signerField: string;
  /** Sees every message that passed, with its opened envelope (e.g. to put an offer in the book). */
  onValid?: (opened: Extract<OpenedEnvelope<z.output<T>>, { ok: true }>, message: Message) => void;
  /** Sees every message refused (Reject or Ignore), with the reason, e.g. to log it. */
  onRefused?: (refusal: Extract<OpenedEnvelope<unknown>, { ok: false }>, message: Message) => void;
};

/**
 * A gossipsub topic validator for signed market envelopes (DESIGN §4): Accept a message whose
 * envelope is well formed, of `kind` and signed by the key its payload names; Ignore one that has
 * expired (no penalty: clocks differ); Reject everything else, which counts against the score of
 * the peer that forwarded it. Gossip messages carry no libp2p signature (see createHost), so the
 * envelope's signature is the only one, and its signed peer id says which peer to dial back.
 */
export function envelopeTopicValidator<T extends z.ZodTypeAny>(
  parameters: EnvelopeTopicValidatorParameters<T>,
): TopicValidatorFn {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return async (_propagationSource, message) => {
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(message.data));
    } catch {
      parameters.onRefused?.({ ok: false, reason: "malformed", detail: "not JSON" }, message);
      return TopicValidatorResult.Reject;
    }
    const opened = await openEnvelope(raw, {
      chainId: parameters.chainId,
      kind: parameters.kind,
      schema: parameters.schema,
      signerField: parameters.signerField,
    });
    if (opened.ok) {
      parameters.onValid?.(opened, message);
      return TopicValidatorResult.Accept;
    }
    parameters.onRefused?.(opened, message);
    return opened.reason === "stale" ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
  };
}
