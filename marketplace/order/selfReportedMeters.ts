import type { Meter, Rate } from "../messages/primitives.ts";

/** The meters a provider node never measures itself: only a report (the job's or its operator's) can count them. */
const REPORTED_ONLY: readonly Meter[] = ["requests", "tokens"];

/**
 * The meters an agreement with `rates` names as self-reported: `requests` and `tokens` where the card
 * prices them (the node measures neither for a batch job; the job's usage file or the operator over
 * `POST /v1/usage` reports them, bounded by the order's `maxUsage`). Every other meter is measured by
 * the node and no report of it is accepted. In `REPORTED_ONLY` order, so two sides compute equal lists.
 * An endpoint has none: its provider's proxy counts the requests and tokens it serves (DESIGN §12).
 */
export function selfReportedMeters(
  rates: readonly Pick<Rate, "meter">[],
  o: { endpoint?: boolean } = {},
): Meter[] {
  if (o.endpoint === true) return [];
  return REPORTED_ONLY.filter((m) => rates.some((r) => r.meter === m));
}
