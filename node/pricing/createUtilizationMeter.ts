/** Units in use and in all, per resource class (a GPU class, `cpu`, `mem`). */
export type UtilizationSample = Map<string, { used: number; total: number }>;

const BPS = 10_000;

/**
 * Time-weighted utilization per resource class: `observe` records the state from now on (call it
 * whenever capacity changes), `take` returns each class's average share in use since the previous
 * `take`, in basis points, and starts the next epoch. Pure but for the injected clock.
 */
export function createUtilizationMeter(now: () => number) {
  let current: UtilizationSample = new Map();
  let since = now();
  let epochStart = since;
  // Per class: ∫ used dt and ∫ total dt over the epoch (unit·ms; far below 2^53 for any real node).
  const usedArea = new Map<string, number>();
  const totalArea = new Map<string, number>();

  function accumulate(t: number): void {
    const dt = t - since;
    if (dt > 0) {
      for (const [key, { used, total }] of current) {
        usedArea.set(key, (usedArea.get(key) ?? 0) + used * dt);
        totalArea.set(key, (totalArea.get(key) ?? 0) + total * dt);
      }
    }
    since = Math.max(since, t);
  }

  return {
    observe(sample: UtilizationSample): void {
      accumulate(now());
      current = new Map([...sample].map(([k, v]) => [k, { used: Math.max(0, v.used), total: v.total }]));
    },
    /** Average utilization per class since the last take, 0–10 000; the current state for an empty epoch. */
    take(): Map<string, number> {
      const t = now();
      accumulate(t);
      const out = new Map<string, number>();
      const keys = new Set([...current.keys(), ...totalArea.keys()]);
      for (const key of keys) {
        const total = totalArea.get(key) ?? 0;
        const used = usedArea.get(key) ?? 0;
        const state = current.get(key);
        const share =
          total > 0 ? used / total : state !== undefined && state.total > 0 ? state.used / state.total : 0;
        out.set(key, Math.min(BPS, Math.round(share * BPS)));
      }
      usedArea.clear();
      totalArea.clear();
      epochStart = t;
      return out;
    },
    /** When the current epoch started (epoch ms). */
    get epochStart(): number {
      return epochStart;
    },
  };
}

export type UtilizationMeter = ReturnType<typeof createUtilizationMeter>;
