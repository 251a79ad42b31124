import type { Slot } from "./offerIndex.ts";
import type { TreeSink } from "./priceTree.ts";

/** A slot with its exact hourly cost. */
export type Ranked = { slot: Slot; cost: bigint };

/**
 * The candidates of one order while the price trees are searched, ranked exactly at the end.
 *
 * During the search costs are doubles (`Σ quantity × unit price`), which are within 3 base units
 * plus a few parts in 10¹⁵ of the exact floored cost. The shortlist keeps the best `limit`
 * providers by that figure and sets `threshold` to the last one's × (1 + 10⁻⁹) + 8: any slot in the
 * exact top `limit` is at or below it (the `limit` providers kept cost exactly at most a hair above
 * their doubles, so the exact `limit`-th cost is too), and everything above it is dropped. Only
 * what is left gets its cost in bigint and is sorted exactly, usually little more than `limit`.
 *
 * One shortlist serves order after order (`reset`): matching allocates little per order.
 */
export class Shortlist implements TreeSink {
  threshold = Number.POSITIVE_INFINITY;
  #limit = 0;
  /** A finite limit: the best providers are tracked and set the threshold. */
  #ranking = false;
  #count = 0;
  readonly #slots: Slot[] = [];
  #approx = new Float64Array(64);
  /** Exact costs known up front (tiered rates), by candidate position. */
  readonly #exact = new Map<number, bigint>();
  /** The best `limit` providers' best approximate costs, ascending, and who they are. */
  #topCost = new Float64Array(16);
  #topProvider = new Int32Array(16);
  #topCount = 0;
  /** Per provider id: the generation that last ranked it, and where its best candidate is. */
  #seen = new Int32Array(0);
  #bestAt = new Int32Array(0);
  #generation = 0;

  /** Starts a new order: at most `limit` results, provider ids below `providers`. */
  reset(limit: number, providers: number): void {
    this.threshold = Number.POSITIVE_INFINITY;
    this.#limit = limit;
    this.#ranking = Number.isFinite(limit);
    // Old entries past #count are overwritten, never read: keeping the arrays saves regrowing them.
    this.#count = 0;
    if (this.#exact.size > 0) this.#exact.clear();
    this.#topCount = 0;
    if (Number.isFinite(limit) && this.#topCost.length < limit) {
      this.#topCost = new Float64Array(limit);
      this.#topProvider = new Int32Array(limit);
    }
    if (this.#seen.length < providers) {
      this.#seen = new Int32Array(providers);
      this.#bestAt = new Int32Array(providers);
      this.#generation = 0;
    }
  }

  add(slot: Slot, approxCost: number): void {
    if (approxCost > this.threshold) return;
    const at = this.#count++;
    if (at === this.#approx.length) {
      const grown = new Float64Array(at * 2);
      grown.set(this.#approx);
      this.#approx = grown;
    }
    this.#approx[at] = approxCost;
    this.#slots[at] = slot;
    if (this.#ranking) this.#rank(slot.providerId, approxCost);
  }

  /** A candidate whose exact cost is already known (a tiered rate). */
  addExact(slot: Slot, cost: bigint): void {
    const at = this.#count;
    this.add(slot, Number(cost));
    if (this.#count > at) this.#exact.set(at, cost);
  }

  /**
   * The best `limit` candidates, one per provider (its cheapest slot), by exact cost, then the
   * provider's address, then the GPU class.
   */
  ranked(costOf: (slot: Slot) => bigint): Ranked[] {
    const gen = ++this.#generation;
    const seen = this.#seen;
    const bestAt = this.#bestAt;
    const exact = this.#exact.size > 0 ? this.#exact : undefined;
    const threshold = this.threshold;
    const out: Ranked[] = [];
    for (let i = 0; i < this.#count; i++) {
      if ((this.#approx[i] as number) > threshold) continue;
      const slot = this.#slots[i] as Slot;
      const id = slot.providerId;
      const cost = exact?.get(i) ?? costOf(slot);
      if (seen[id] !== gen) {
        seen[id] = gen;
        bestAt[id] = out.length;
        out.push({ slot, cost });
        continue;
      }
      const held = out[bestAt[id] as number] as Ranked;
      if (better(cost, slot, held.cost, held.slot)) {
        held.slot = slot;
        held.cost = cost;
      }
    }
    if (out.length > 32) out.sort((a, b) => (better(a.cost, a.slot, b.cost, b.slot) ? -1 : 1));
    else insertionSort(out);
    if (out.length > this.#limit) out.length = this.#limit;
    return out;
  }

  /** Keeps the top `limit` providers by their best approximate cost, and the threshold they set. */
  #rank(provider: number, approx: number): void {
    const cost = this.#topCost;
    const who = this.#topProvider;
    let n = this.#topCount;
    let at = -1;
    for (let i = 0; i < n; i++) {
      if (who[i] === provider) {
        at = i;
        break;
      }
    }
    if (at >= 0) {
      // Seen already: only a cheaper slot of the same provider moves it up.
      if ((cost[at] as number) <= approx) return;
    } else if (n < this.#limit) {
      at = n++;
    } else {
      if ((cost[n - 1] as number) <= approx) return;
      at = n - 1;
    }
    // Slide the entries between the new place and `at` down one, then write it.
    while (at > 0 && (cost[at - 1] as number) > approx) {
      cost[at] = cost[at - 1] as number;
      who[at] = who[at - 1] as number;
      at--;
    }
    cost[at] = approx;
    who[at] = provider;
    this.#topCount = n;
    if (n >= this.#limit) this.threshold = (cost[n - 1] as number) * (1 + 1e-9) + 8;
  }
}

/** Whether (costA, a) ranks before (costB, b): cheaper, then lower address, then class name. */
function better(costA: bigint, a: Slot, costB: bigint, b: Slot): boolean {
  if (costA !== costB) return costA < costB;
  if (a.key !== b.key) return a.key < b.key;
  return (a.gpuClass ?? "") < (b.gpuClass ?? "");
}

/** Sorts a short list best first; a handful of items is all a shortlist usually holds. */
function insertionSort(items: Ranked[]): void {
  for (let i = 1; i < items.length; i++) {
    const item = items[i] as Ranked;
    let j = i;
    while (
      j > 0 &&
      better(item.cost, item.slot, (items[j - 1] as Ranked).cost, (items[j - 1] as Ranked).slot)
    ) {
      items[j] = items[j - 1] as Ranked;
      j--;
    }
    items[j] = item;
  }
}
