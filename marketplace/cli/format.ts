import { formatUnits, parseUnits } from "viem";
import { UsageError } from "../errors/usage.ts";
import type { Meter } from "../rating/meters.ts";

// The one place where the CLI turns money, rates and time into text for people. `--json` carries
// the exact base units instead.

const DECIMALS = 18;
/** Significant digits kept after the decimal point (and decimals kept above 1). */
const SIGNIFICANT = 6;
const HOUR_MS = 3_600_000n;

/** `1.25 GRID`, `0.00625 GRID`: at most 6 significant decimals, rounded half up. */
export function formatGrid(amount: bigint): string {
  return `${formatAmount(amount)} GRID`;
}

/** The number part of {@link formatGrid}. */
export function formatAmount(amount: bigint): string {
  const negative = amount < 0n;
  const abs = negative ? -amount : amount;
  const exact = formatUnits(abs, DECIMALS);
  const [whole = "0", fraction = ""] = exact.split(".");
  // Decimals kept: 6 for amounts of 1 and more, else up to 6 significant digits after the zeros.
  const leadingZeros = whole === "0" ? (fraction.match(/^0*/)?.[0].length ?? 0) : 0;
  const keep = Math.min(DECIMALS, leadingZeros + SIGNIFICANT);
  if (fraction.length <= keep) return `${negative ? "-" : ""}${exact}`;
  const unit = 10n ** BigInt(DECIMALS - keep);
  const rounded = ((abs + unit / 2n) / unit) * unit;
  return `${negative ? "-" : ""}${formatUnits(rounded, DECIMALS)}`;
}

/** What one unit-hour of a meter is called: `GPU-h`, `core-h`, `GiB-h`. */
const HOUR_UNITS: Partial<Record<Meter, { unit: string; scale: bigint }>> = {
  gpu_ms: { unit: "GPU-h", scale: 1n },
  gpu_util_ms: { unit: "GPU-h at full use", scale: 1n },
  cpu_core_ms: { unit: "core-h", scale: 1n },
  mem_mib_ms: { unit: "GiB-h", scale: 1024n },
  gpu_mem_mib_ms: { unit: "VRAM GiB-h", scale: 1024n },
};

/**
 * A rate for people: `2.5 GRID/GPU-h` for the time meters (price for `per` units of the meter,
 * scaled to one unit-hour), `0.001 GRID/request`, `0.1 GRID/GiB` of egress otherwise.
 */
export function formatRate(rate: { meter: Meter; price: bigint; per: bigint }): string {
  const hourly = HOUR_UNITS[rate.meter];
  if (hourly !== undefined) {
    const perHour = (rate.price * HOUR_MS * hourly.scale) / rate.per;
    return `${formatAmount(perHour)} GRID/${hourly.unit}`;
  }
  if (rate.meter === "egress_bytes")
    return `${formatAmount((rate.price * 1024n ** 3n) / rate.per)} GRID/GiB egress`;
  if (rate.meter === "requests") return `${formatAmount(rate.price / rate.per)} GRID/request`;
  return `${formatAmount((rate.price * 1_000_000n) / rate.per)} GRID/M tokens`;
}

/** `per second`, `per minute`, `per millisecond`: how a billing granularity rounds time up. */
export function formatGranularity(granularity: "ms" | "s" | "min"): string {
  return granularity === "ms" ? "per ms" : granularity === "s" ? "per second" : "per minute";
}

/**
 * Durations for people, the two largest units: `2 d 3 h`, `4 min 10 s`, `12.3 s`, `850 ms`.
 * Accepts milliseconds as a number or a bigint.
 */
export function formatDuration(ms: number | bigint): string {
  const total = typeof ms === "bigint" ? Number(ms) : ms;
  if (!Number.isFinite(total)) return "forever";
  if (total < 1000) return `${Math.round(total)} ms`;
  if (total < 60_000) return `${(Math.round(total / 100) / 10).toString()} s`;
  const s = Math.round(total / 1000);
  const units: [string, number][] = [
    ["d", 86_400],
    ["h", 3_600],
    ["min", 60],
    ["s", 1],
  ];
  const parts: string[] = [];
  let rest = s;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length > 0) parts.push(`${n} ${name}`);
    if (parts.length === 2) break;
  }
  return parts.filter((p) => !p.startsWith("0 ")).join(" ");
}

/** @deprecated name kept for callers outside the CLI: see {@link formatDuration}. */
export const formatMs = (ms: bigint): string => formatDuration(ms);

/** Parses a GRID amount a person typed ("2.5") into base units; refuses more than 18 decimals. */
export function parseGrid(text: string, flag: string): bigint {
  if (!/^\d+(\.\d{1,18})?$/.test(text.trim())) {
    throw new UsageError(
      `${flag} must be an amount of GRID like 2 or 0.5 (at most 18 decimals), got "${text}"`,
    );
  }
  return parseUnits(text.trim(), DECIMALS);
}

export function parsePositiveInt(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a whole number, got "${text}"`);
  return n;
}

/**
 * A duration a person typed: `90` (seconds), `90s`, `15m`, `2h`, `1d`. Returns seconds.
 */
export function parseDurationS(text: string, flag: string): number {
  const m = /^(\d+)\s*(s|m|min|h|d)?$/.exec(text.trim());
  if (m === null) throw new UsageError(`${flag} takes a duration like 90, 90s, 15m, 2h or 1d, got "${text}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return n * (unit === "s" ? 1 : unit === "m" || unit === "min" ? 60 : unit === "h" ? 3600 : 86_400);
}

/** A table for people: a header row, columns padded to their widest cell. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** `in 59 min 58 s` / `2 min 3 s ago` for a unix time in seconds, relative to now. */
export function formatWhen(unixS: number, nowMs: number = Date.now()): string {
  const delta = unixS * 1000 - nowMs;
  const at = new Date(unixS * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  return delta >= 0 ? `${at} (in ${formatDuration(delta)})` : `${at} (${formatDuration(-delta)} ago)`;
}
