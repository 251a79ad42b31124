import { concat, type Hex, keccak256, stringToBytes } from "viem";

export const ZERO_HASH: Hex = `0x${"00".repeat(32)}`;

/**
 * The hash chain of a job's debit notes: keccak256(previous ‖ keccak256(events)), where the events
 * digest hashes `id=quantity` lines in the order the ledger stored them. Anyone holding the raw
 * events can recompute every note's hash; a changed, dropped or added event breaks the chain.
 */
export function chainEventsHash(previous: Hex, events: readonly { id: string; quantity: bigint }[]): Hex {
  const digest = keccak256(stringToBytes(events.map((e) => `${e.id}=${e.quantity}`).join("\n")));
  return keccak256(concat([previous, digest]));
}
