/**
 * JSON with bigints: every bigint is written as a decimal string (money and usage travel and print
 * that way: `--json` output, p2p messages, the operator API). Schemas turn them back into bigints.
 */
export function toJson(value: unknown, space?: number): string {
  return JSON.stringify(value, (_key, v) => (typeof v === "bigint" ? v.toString() : v), space);
}

/** Makes a value JSON-safe (bigints to strings) without serialising it. */
export function toJsonValue<T>(value: T): unknown {
  return JSON.parse(toJson(value));
}
