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
};

/**
 * A gossipsub topic validator for signed market envelopes (DESIGN §4): Accept a message whose
 * envelope is well formed, of `kind`, signed by the key its payload names, for the peer that
 * published it; Ignore one that has expired (no penalty: clocks differ); Reject everything else,
 * which counts against the sender's peer score.
 */
export function envelopeTopicValidator<T extends z.ZodTypeAny>(
  parameters: EnvelopeTopicValidatorParameters<T>,
): TopicValidatorFn {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  return async (_propagationSource, message) => {
    if (message.type !== "signed") return TopicValidatorResult.Reject;
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(message.data));
    } catch {
      return TopicValidatorResult.Reject;
    }
    const opened = await openEnvelope(raw, {
      chainId: parameters.chainId,
      kind: parameters.kind,
      schema: parameters.schema,
      peerId: message.from.toString(),
      signerField: parameters.signerField,
    });
    if (opened.ok) {
      parameters.onValid?.(opened, message);
      return TopicValidatorResult.Accept;
    }
    return opened.reason === "stale" ? TopicValidatorResult.Ignore : TopicValidatorResult.Reject;
  };
}
