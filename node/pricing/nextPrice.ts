/**
 * One resource class's price curve, set by the operator (DESIGN §6). Prices in token base units per
 * hour; utilization and steps in basis points.
 */
export type PriceCurve = {
  base: bigint;
  floor: bigint;
  ceiling: bigint;
  /** The utilization the price aims for, e.g. 7000 = 70 %. */
  targetUtilizationBps: number;
  /** The most the price moves in one epoch, e.g. 1250 = 12.5 % (EIP-1559's base-fee step). */
  maxStepBps: number;
};

/** What happened in the epoch that ended. */
export type EpochSignals = {
  /** Average share of the class's units in use, 0–10 000. */
  utilizationBps: number;
  /** Orders declined because the class was full. */
  turnedAway: number;
  /** Bids of ours the submitter passed on (it took a cheaper one). */
  lostOnPrice: number;
};

const BPS = 10_000n;

/**
 * The next epoch's price: like EIP-1559's base fee, the step is proportional to how far utilization
 * is from the target, reaching ±maxStep at full and at zero utilization. Orders turned away for
 * capacity push up by the full step; bids lost on price while at or below target push down by the
 * full step. The result stays within [floor, ceiling]. Integer arithmetic; a move rounds toward the
 * old price, so a price never moves by more than maxStep.
 */
export function nextPrice(price: bigint, curve: PriceCurve, signals: EpochSignals): bigint {
  const target = BigInt(curve.targetUtilizationBps);
  const maxStep = BigInt(curve.maxStepBps);
  const utilization = BigInt(Math.min(10_000, Math.max(0, Math.round(signals.utilizationBps))));
  let stepBps: bigint;
  if (utilization >= target) {
    stepBps = target === BPS ? 0n : (maxStep * (utilization - target)) / (BPS - target);
  } else {
    stepBps = target === 0n ? 0n : -((maxStep * (target - utilization)) / target);
  }
  if (signals.turnedAway > 0) stepBps = maxStep;
  else if (signals.lostOnPrice > 0 && utilization <= target) stepBps = -maxStep;
  // The move is floored in size, so it rounds toward the old price in both directions.
  const delta = (price * (stepBps < 0n ? -stepBps : stepBps)) / BPS;
  const moved = stepBps < 0n ? price - delta : price + delta;
  return moved < curve.floor ? curve.floor : moved > curve.ceiling ? curve.ceiling : moved;
}
