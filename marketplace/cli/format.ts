import { formatUnits, parseUnits } from "viem";
import { UsageError } from "../errors/usage.ts";

/** `1.25 GRID`: money for people; `--json` carries the exact base units instead. */
export function formatGrid(amount: bigint): string {
  return `${formatUnits(amount, 18)} GRID`;
}

/** Parses a GRID amount a person typed ("2.5") into base units; refuses more than 18 decimals. */
export function parseGrid(text: string, flag: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(text.trim())) {
    throw new UsageError(
      `${flag} must be an amount of GRID like 2 or 0.5 (at most 18 decimals), got "${text}"`,
    );
  }
  return parseUnits(text.trim(), 18);
}

export function parsePositiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a whole number, got "${text}"`);
  return n;
}

/** `12.3 s`, `4 min 2 s`: durations from milliseconds. */
export function formatMs(ms: bigint): string {
  const s = Number(ms) / 1000;
  return s < 120 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
