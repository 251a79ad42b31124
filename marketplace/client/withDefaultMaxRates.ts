import type { Rate } from "../messages/primitives.ts";
import { DEFAULT_MAX_RATES } from "./constants.ts";

/**
 * The order's maxima: the submitter's own, plus DEFAULT_MAX_RATES for each time meter it set none
 * for. Every meter a bid prices must have a maximum (see `unboundedMeters`); counted meters only ever
 * get the submitter's own.
 */
export function withDefaultMaxRates(maxRates: readonly Rate[]): Rate[] {
  const set = new Set(maxRates.map((r) => r.meter));
  return [...maxRates, ...DEFAULT_MAX_RATES.filter((d) => !set.has(d.meter)).map((d) => ({ ...d }))];
}
