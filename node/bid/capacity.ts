import type { Requirements } from "../../marketplace/messages/order.ts";

export type GpuSlot = { index: number; class: string; vramMiB: number };

export type CapacityTotals = { gpus: GpuSlot[]; cpuCores: number; memMiB: number; maxDurationS: number };

export type Reservation = {
  jobId: string;
  gpuIndices: number[];
  gpuClass: string | undefined;
  cpuCores: number;
  memMiB: number;
  /** Epoch ms after which an unstarted hold is released. */
  holdUntil: number;
  running: boolean;
};

export type FitResult =
  | { fits: true; gpuClass: string | undefined }
  | {
      fits: false;
      reason: "gpu-class" | "vram" | "cpu" | "memory" | "duration" | "no-capacity";
      detail: string;
    };

/**
 * What a provider can still promise. A hold is taken on Accept and becomes a running job on start;
 * a hold whose job does not start by `holdUntil` is released. JavaScript runs one callback at a time,
 * so check-and-reserve in `reserve` is atomic: concurrent orders never oversubscribe the node.
 */
export class Capacity {
  readonly #totals: CapacityTotals;
  readonly #reservations = new Map<string, Reservation>();
  readonly #onChange: () => void;
  readonly #now: () => number;

  constructor(totals: CapacityTotals, options: { onChange?: () => void; now?: () => number } = {}) {
    this.#totals = totals;
    this.#onChange = options.onChange ?? (() => {});
    this.#now = options.now ?? Date.now;
  }

  get totals(): CapacityTotals {
    return this.#totals;
  }

  /** Free GPUs per class, free CPU cores and memory, after dropping expired holds. */
  free(): { gpusByClass: Map<string, GpuSlot[]>; cpuCores: number; memMiB: number } {
    this.#sweep();
    const used = new Set<number>();
    let cpu = 0;
    let mem = 0;
    for (const r of this.#reservations.values()) {
      for (const i of r.gpuIndices) used.add(i);
      cpu += r.cpuCores;
      mem += r.memMiB;
    }
    const gpusByClass = new Map<string, GpuSlot[]>();
    for (const gpu of this.#totals.gpus) {
      if (used.has(gpu.index)) continue;
      gpusByClass.set(gpu.class, [...(gpusByClass.get(gpu.class) ?? []), gpu]);
    }
    return { gpusByClass, cpuCores: this.#totals.cpuCores - cpu, memMiB: this.#totals.memMiB - mem };
  }

  /** Whether the requirements could run here at all, and whether they fit now. */
  check(req: Requirements): FitResult {
    const { gpus, cpuCores, memMiB, maxDurationS } = this.#totals;
    if (req.maxDurationS > maxDurationS) {
      return { fits: false, reason: "duration", detail: `max duration here is ${maxDurationS}s` };
    }
    if (req.cpuCores > cpuCores) return { fits: false, reason: "cpu", detail: `${cpuCores} cores here` };
    if (req.memMiB > memMiB) return { fits: false, reason: "memory", detail: `${memMiB} MiB here` };
    let candidates = gpus;
    if (req.gpus > 0) {
      if (req.gpuClass !== undefined) candidates = candidates.filter((g) => g.class === req.gpuClass);
      if (candidates.length === 0) {
        return {
          fits: false,
          reason: "gpu-class",
          detail: req.gpuClass ? `no ${req.gpuClass} here` : "no GPUs here",
        };
      }
      if (req.vramMiB !== undefined) {
        const vram = req.vramMiB;
        candidates = candidates.filter((g) => g.vramMiB >= vram);
        if (candidates.length === 0)
          return { fits: false, reason: "vram", detail: `no GPU with ${vram} MiB` };
      }
      const byClass = countBy(candidates.map((g) => g.class));
      if (Math.max(...byClass.values()) < req.gpus) {
        return { fits: false, reason: "gpu-class", detail: `fewer than ${req.gpus} matching GPUs here` };
      }
    }
    const pick = this.#pick(req);
    if (pick === undefined)
      return { fits: false, reason: "no-capacity", detail: "busy: not enough free now" };
    return { fits: true, gpuClass: pick.gpuClass };
  }

  /**
   * The GPU classes that could take `req` now (enough free GPUs of the VRAM asked for, with the
   * cores and memory free too), in the order `check` would try them. Empty for a CPU-only order.
   */
  freeClasses(req: Requirements): string[] {
    if (req.gpus === 0) return [];
    const free = this.free();
    if (free.cpuCores < req.cpuCores || free.memMiB < req.memMiB) return [];
    const classes: string[] = [];
    for (const [cls, slots] of free.gpusByClass) {
      if (req.gpuClass !== undefined && cls !== req.gpuClass) continue;
      if (slots.filter((g) => req.vramMiB === undefined || g.vramMiB >= req.vramMiB).length >= req.gpus)
        classes.push(cls);
    }
    return classes;
  }

  /**
   * What was short when `req` could run here but not now (a `no-capacity` decline): the GPU classes
   * it could use whose free GPUs are too few, `cpu` and `mem`. The pricing engine counts these as
   * orders turned away for capacity.
   */
  shortages(req: Requirements): string[] {
    const free = this.free();
    const short: string[] = [];
    if (req.gpus > 0) {
      const classes = new Map<string, number>();
      for (const g of this.#totals.gpus) {
        if (req.gpuClass !== undefined && g.class !== req.gpuClass) continue;
        if (req.vramMiB !== undefined && g.vramMiB < req.vramMiB) continue;
        classes.set(g.class, (classes.get(g.class) ?? 0) + 1);
      }
      for (const [cls, count] of classes) {
        if (count < req.gpus) continue;
        const freeHere = (free.gpusByClass.get(cls) ?? []).filter(
          (g) => req.vramMiB === undefined || g.vramMiB >= req.vramMiB,
        ).length;
        if (freeHere < req.gpus) short.push(cls);
      }
    }
    if (free.cpuCores < req.cpuCores) short.push("cpu");
    if (free.memMiB < req.memMiB) short.push("mem");
    return short;
  }

  /**
   * Units held (reserved or running) and in all, per resource class: each GPU class by name, `cpu`
   * (cores) and `mem` (MiB). The pricing engine's utilization signal.
   */
  utilization(): Map<string, { used: number; total: number }> {
    const free = this.free();
    const out = new Map<string, { used: number; total: number }>();
    for (const g of this.#totals.gpus) {
      const u = out.get(g.class) ?? { used: 0, total: 0 };
      u.total += 1;
      out.set(g.class, u);
    }
    for (const [cls, u] of out) u.used = u.total - (free.gpusByClass.get(cls)?.length ?? 0);
    out.set("cpu", { used: this.#totals.cpuCores - free.cpuCores, total: this.#totals.cpuCores });
    out.set("mem", { used: this.#totals.memMiB - free.memMiB, total: this.#totals.memMiB });
    return out;
  }

  /** Holds capacity for `jobId` until `holdUntil`; undefined when it no longer fits. */
  reserve(jobId: string, req: Requirements, holdUntil: number): Reservation | undefined {
    const pick = this.#pick(req);
    if (pick === undefined) return undefined;
    const reservation: Reservation = {
      jobId,
      gpuIndices: pick.gpuIndices,
      gpuClass: pick.gpuClass,
      cpuCores: req.cpuCores,
      memMiB: req.memMiB,
      holdUntil,
      running: false,
    };
    this.#reservations.set(jobId, reservation);
    this.#onChange();
    return reservation;
  }

  get(jobId: string): Reservation | undefined {
    this.#sweep();
    return this.#reservations.get(jobId);
  }

  markRunning(jobId: string): void {
    const r = this.#reservations.get(jobId);
    if (r !== undefined) r.running = true;
  }

  release(jobId: string): void {
    if (this.#reservations.delete(jobId)) this.#onChange();
  }

  runningCount(): number {
    return [...this.#reservations.values()].filter((r) => r.running).length;
  }

  #pick(req: Requirements): { gpuIndices: number[]; gpuClass: string | undefined } | undefined {
    const free = this.free();
    if (free.cpuCores < req.cpuCores || free.memMiB < req.memMiB) return undefined;
    if (req.gpus === 0) return { gpuIndices: [], gpuClass: undefined };
    for (const [cls, slots] of free.gpusByClass) {
      if (req.gpuClass !== undefined && cls !== req.gpuClass) continue;
      const fitting = slots.filter((g) => req.vramMiB === undefined || g.vramMiB >= req.vramMiB);
      if (fitting.length >= req.gpus)
        return { gpuIndices: fitting.slice(0, req.gpus).map((g) => g.index), gpuClass: cls };
    }
    return undefined;
  }

  #sweep(): void {
    const now = this.#now();
    let changed = false;
    for (const [jobId, r] of this.#reservations) {
      if (!r.running && r.holdUntil <= now) {
        this.#reservations.delete(jobId);
        changed = true;
      }
    }
    if (changed) this.#onChange();
  }
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}
