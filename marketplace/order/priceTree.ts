import type { Slot } from "./offerIndex.ts";

/** Slots per leaf: a leaf is read in a tight loop, a node costs a bound and two pushes. */
const LEAF_SIZE = 8;

/**
 * A k-d tree of slots over their three unit prices (GPU, CPU core, memory), for the cheapest-first
 * search of `searchPriceTree`. Every node knows the lowest price of each meter and the largest free
 * figures below it, so a subtree that cannot fit the order or cannot beat the matches already kept
 * is skipped whole. Figures are interleaved in typed arrays (see the offsets below) in leaf order,
 * so a search reads memory in a few straight runs.
 */
export type PriceTree = {
  /** The slots in leaf order. */
  slots: Slot[];
  /** Per slot, `SLOT_FIGURES` numbers: free GPUs, cores, memory, duration, VRAM, GPU, CPU, memory price. */
  slotFigures: Float64Array;
  /** Per node, `NODE_FIGURES` numbers: lowest GPU, CPU, memory price; largest cores, memory, duration, VRAM. */
  nodeFigures: Float64Array;
  /** Per node, `NODE_LINKS` numbers: first slot, end of slots, left child (−1 for a leaf), right child. */
  nodeLinks: Int32Array;
};

const SLOT_FIGURES = 8;
const NODE_FIGURES = 8;
const NODE_LINKS = 4;

/** An order as the search reads it: quantities weigh the prices, needs and price caps prune. */
export type TreeQuery = {
  gpus: number;
  cores: number;
  memMiB: number;
  needVram: number;
  needDuration: number;
  /**
   * Each meter's lowest cap (unit price per hour, +∞ without one) with slack either way: a price
   * above `hi` is over the cap, one below `lo` under it; in between `withinCaps` decides exactly.
   */
  capGpuLo: number;
  capGpuHi: number;
  capCpuLo: number;
  capCpuHi: number;
  capMemLo: number;
  capMemHi: number;
  withinCaps: (slot: Slot) => boolean;
};

/** Where the search puts what it finds; `threshold` only falls, and nothing above it can rank. */
export type TreeSink = { threshold: number; add(slot: Slot, approxCost: number): void };

type Dim = "gpuNum" | "cpuNum" | "memNum";

export function buildPriceTree(input: readonly Slot[]): PriceTree {
  const slots = [...input];
  const n = slots.length;
  const figures: number[] = [];
  const links: number[] = [];
  // Splits go across the meter whose prices spread most relative to their mean: the meters are in
  // unrelated units, and an order's quantities are not known yet.
  const dims: Dim[] = ["gpuNum", "cpuNum", "memNum"];
  const scale = dims.map((d) => {
    const mean = slots.reduce((sum, s) => sum + s[d], 0) / Math.max(1, n);
    return mean > 0 ? 1 / mean : 0;
  });
  const build = (lo: number, hi: number): number => {
    const node = links.length / NODE_LINKS;
    const low = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
    const high = [0, 0, 0];
    const most = [0, 0, 0, 0];
    for (let i = lo; i < hi; i++) {
      const s = slots[i] as Slot;
      dims.forEach((d, k) => {
        low[k] = Math.min(low[k] as number, s[d]);
        high[k] = Math.max(high[k] as number, s[d]);
      });
      most[0] = Math.max(most[0] as number, s.freeCpuCores);
      most[1] = Math.max(most[1] as number, s.freeMemMiB);
      most[2] = Math.max(most[2] as number, s.maxDurationS);
      most[3] = Math.max(most[3] as number, s.vramMiB);
    }
    figures.push(...low, ...most, 0);
    links.push(lo, hi, -1, -1);
    if (hi - lo <= LEAF_SIZE) return node;
    const spread = dims.map((_, k) => ((high[k] as number) - (low[k] as number)) * (scale[k] as number));
    const dim = dims[spread.indexOf(Math.max(...spread))] as Dim;
    const part = slots.slice(lo, hi).sort((a, b) => a[dim] - b[dim]);
    for (let i = 0; i < part.length; i++) slots[lo + i] = part[i] as Slot;
    const mid = (lo + hi) >>> 1;
    links[node * NODE_LINKS + 2] = build(lo, mid);
    links[node * NODE_LINKS + 3] = build(mid, hi);
    return node;
  };
  if (n > 0) build(0, n);
  const slotFigures = new Float64Array(n * SLOT_FIGURES);
  for (const [i, s] of slots.entries()) {
    slotFigures.set(
      [s.freeGpus, s.freeCpuCores, s.freeMemMiB, s.maxDurationS, s.vramMiB, s.gpuNum, s.cpuNum, s.memNum],
      i * SLOT_FIGURES,
    );
  }
  return { slots, slotFigures, nodeFigures: Float64Array.from(figures), nodeLinks: Int32Array.from(links) };
}

// One stack for every search: searches run to completion, one at a time. Depth-first with the
// nearer child on top holds at most one pending sibling per level, and median splits keep the
// depth at log₂(slots / LEAF_SIZE) + 1.
const STACK = new Int32Array(128);

/**
 * Hands `sink` every slot of `tree` that fits `q` (free GPUs, cores, memory, duration, VRAM, price
 * caps) and whose approximate hourly cost `Σ quantity × unit price` is not above the sink's
 * threshold, cheapest subtrees first. A subtree whose lowest possible cost is above the threshold,
 * or whose largest free figures are too small, is not entered.
 */
export function searchPriceTree(tree: PriceTree, q: TreeQuery, sink: TreeSink): void {
  if (tree.slots.length === 0 || !enterable(tree.nodeFigures, 0, q, sink.threshold)) return;
  const { gpus, cores, memMiB } = q;
  const links = tree.nodeLinks;
  const nodes = tree.nodeFigures;
  const stack = STACK;
  let sp = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const node = stack[--sp] as number;
    const at = node * NODE_LINKS;
    const left = links[at + 2] as number;
    if (left < 0) {
      // Pushed when it could be entered; the threshold may have fallen since.
      if (bound(nodes, node, gpus, cores, memMiB) <= sink.threshold)
        scanLeaf(tree, links[at] as number, links[at + 1] as number, q, sink);
      continue;
    }
    const right = links[at + 3] as number;
    const threshold = sink.threshold;
    const goLeft = enterable(nodes, left, q, threshold);
    const goRight = enterable(nodes, right, q, threshold);
    if (goLeft && goRight) {
      // The nearer child on top: it is searched first and may lower the threshold for the other.
      if (bound(nodes, left, gpus, cores, memMiB) <= bound(nodes, right, gpus, cores, memMiB)) {
        stack[sp++] = right;
        stack[sp++] = left;
      } else {
        stack[sp++] = left;
        stack[sp++] = right;
      }
    } else if (goLeft) stack[sp++] = left;
    else if (goRight) stack[sp++] = right;
  }
}

/** The lowest approximate hourly cost of any slot below `node`. */
function bound(nodes: Float64Array, node: number, gpus: number, cores: number, memMiB: number): number {
  const at = node * NODE_FIGURES;
  return (
    gpus * (nodes[at] as number) + cores * (nodes[at + 1] as number) + memMiB * (nodes[at + 2] as number)
  );
}

/** Whether a slot below `node` could fit `q` and cost no more than `threshold`. */
function enterable(nodes: Float64Array, node: number, q: TreeQuery, threshold: number): boolean {
  const at = node * NODE_FIGURES;
  const gpu = nodes[at] as number;
  const cpu = nodes[at + 1] as number;
  const mem = nodes[at + 2] as number;
  return (
    q.gpus * gpu + q.cores * cpu + q.memMiB * mem <= threshold &&
    (nodes[at + 3] as number) >= q.cores &&
    (nodes[at + 4] as number) >= q.memMiB &&
    (nodes[at + 5] as number) >= q.needDuration &&
    (nodes[at + 6] as number) >= q.needVram &&
    gpu <= q.capGpuHi &&
    cpu <= q.capCpuHi &&
    mem <= q.capMemHi
  );
}

function scanLeaf(tree: PriceTree, lo: number, hi: number, q: TreeQuery, sink: TreeSink): void {
  const { gpus, cores, memMiB } = q;
  const f = tree.slotFigures;
  for (let i = lo; i < hi; i++) {
    const at = i * SLOT_FIGURES;
    if (
      (f[at] as number) < gpus ||
      (f[at + 1] as number) < cores ||
      (f[at + 2] as number) < memMiB ||
      (f[at + 3] as number) < q.needDuration ||
      (f[at + 4] as number) < q.needVram
    )
      continue;
    const g = f[at + 5] as number;
    const c = f[at + 6] as number;
    const m = f[at + 7] as number;
    const approx = gpus * g + cores * c + memMiB * m;
    if (approx > sink.threshold) continue;
    if (g > q.capGpuHi || c > q.capCpuHi || m > q.capMemHi) continue;
    const slot = tree.slots[i] as Slot;
    if ((g >= q.capGpuLo || c >= q.capCpuLo || m >= q.capMemLo) && !q.withinCaps(slot)) continue;
    sink.add(slot, approx);
  }
}
