import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Requirements } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { BookEntry } from "../../../marketplace/offer/offerBook.ts";
import { estimateCost } from "../../../marketplace/order/estimateCost.ts";
import { matchOffers, matchOrder } from "../../../marketplace/order/matchOffers.ts";
import { createOfferIndex } from "../../../marketplace/order/offerIndex.ts";
import { jobRatesOf, offerMisfit } from "../../../marketplace/order/offerMisfit.ts";
import { prng } from "../../../scripts/bench/prng.ts";
import { A100, addr, entryOf, GRID, H100, HOUR_MS, offerOf, T4 } from "./offers.ts";

const req = (r: Partial<Requirements> = {}): Requirements => ({
  gpus: 1,
  cpuCores: 2,
  memMiB: 4096,
  maxDurationS: 3600,
  ...r,
});
const gpuMax = (price: bigint, per = HOUR_MS): Rate => ({ meter: "gpu_ms", price, per });

/** The matcher's contract, the slow way: every offer offerMisfit accepts, at its cheapest class. */
function bruteForce(entries: readonly BookEntry[], r: Requirements, maxRates: readonly Rate[]) {
  const out: { provider: string; gpuClass: string | undefined; hourlyCost: bigint }[] = [];
  for (const { offer } of entries) {
    if (offerMisfit(offer, r, maxRates) !== undefined) continue;
    const classes =
      r.gpus === 0
        ? [undefined]
        : offer.resources
            .filter(
              (c) =>
                (r.gpuClass === undefined || c.class === r.gpuClass) &&
                (r.vramMiB === undefined || c.vramMiB >= r.vramMiB) &&
                c.free >= r.gpus &&
                offer.rates.some((x) => x.meter === "gpu_ms" && x.gpuClass === c.class),
            )
            .map((c) => c.class);
    let best: { gpuClass: string | undefined; hourlyCost: bigint } | undefined;
    for (const gpuClass of classes) {
      const rates = jobRatesOf(offer.rates, gpuClass);
      if (maxRates.some((m) => rates.some((x) => x.meter === m.meter && x.price * m.per > m.price * x.per)))
        continue;
      const hourlyCost = estimateCost(rates, r, HOUR_MS);
      if (
        best === undefined ||
        hourlyCost < best.hourlyCost ||
        (hourlyCost === best.hourlyCost && (gpuClass ?? "") < (best.gpuClass ?? ""))
      )
        best = { gpuClass, hourlyCost };
    }
    if (best !== undefined) out.push({ provider: offer.provider.toLowerCase(), ...best });
  }
  return out.sort((a, b) =>
    a.hourlyCost !== b.hourlyCost
      ? a.hourlyCost < b.hourlyCost
        ? -1
        : 1
      : a.provider < b.provider
        ? -1
        : a.provider > b.provider
          ? 1
          : 0,
  );
}

describe("matchOrder", () => {
  const book = [
    entryOf(offerOf(addr(1), { gpus: [{ class: H100, count: 2, price: 3n * GRID }] })),
    entryOf(offerOf(addr(2), { gpus: [{ class: H100, count: 8, free: 1, price: 2n * GRID }] })),
    entryOf(offerOf(addr(3), { gpus: [{ class: A100, count: 8, price: GRID }] })),
    entryOf(offerOf(addr(4), { gpus: [{ class: T4, count: 1, price: GRID / 4n }], freeCpuCores: 1 })),
    entryOf(offerOf(addr(5), { cpuCores: 64, cpuHour: GRID / 100n })),
  ];
  const index = createOfferIndex(book);

  it("ranks the fitting offers of the named class by the cost of an hour of the whole order", () => {
    const matches = matchOrder(index, { requirements: req({ gpuClass: H100 }), maxRates: [] });
    // 2 cores at 0.02 and 4 GiB at 0.005 add 0.06 GRID an hour to each.
    expect(matches.map((m) => [m.provider, m.gpuClass, m.hourlyCost])).toEqual([
      [addr(2), H100, 2n * GRID + (6n * GRID) / 100n],
      [addr(1), H100, 3n * GRID + (6n * GRID) / 100n],
    ]);
    expect(matches[0]?.rates).toEqual([
      { meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS },
      { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
      { meter: "mem_mib_ms", price: GRID / 200n, per: HOUR_MS * 1024n },
    ]);
  });

  it("skips offers without enough free GPUs, cores, memory, VRAM or duration", () => {
    const two = matchOrder(index, { requirements: req({ gpuClass: H100, gpus: 2 }), maxRates: [] });
    expect(two.map((m) => m.provider)).toEqual([addr(1)]);
    // The T4 is cheapest, but its node has one free core.
    const any = matchOrder(index, { requirements: req(), maxRates: [] });
    expect(any.map((m) => m.provider)).toEqual([addr(3), addr(2), addr(1)]);
    const big = matchOrder(index, { requirements: req({ vramMiB: 50_000 }), maxRates: [] });
    expect(big.map((m) => m.gpuClass)).toEqual([H100, H100]);
    expect(matchOrder(index, { requirements: req({ maxDurationS: 86_401 }), maxRates: [] })).toEqual([]);
    expect(matchOrder(index, { requirements: req({ gpuClass: "nvidia-l4-24gb" }), maxRates: [] })).toEqual(
      [],
    );
  });

  it("leaves out offers above the order's maxima, compared exactly", () => {
    const at = (price: bigint, per?: bigint) =>
      matchOrder(index, { requirements: req({ gpuClass: H100 }), maxRates: [gpuMax(price, per)] }).map(
        (m) => m.provider,
      );
    expect(at(2n * GRID)).toEqual([addr(2)]);
    expect(at(2n * GRID - 1n)).toEqual([]);
    // 3 GRID per hour written per millisecond: 3·10^18 / 3.6·10^6 does not divide, so a floor would lose it.
    expect(at(3n * GRID, HOUR_MS)).toEqual([addr(2), addr(1)]);
    expect(at(3n * GRID - 1n, HOUR_MS)).toEqual([addr(2)]);
    const cpuCap = { meter: "cpu_core_ms" as const, price: GRID / 100n, per: HOUR_MS };
    expect(
      matchOrder(index, { requirements: req({ gpus: 0 }), maxRates: [cpuCap] }).map((m) => m.provider),
    ).toEqual([addr(5)]);
  });

  it("matches a CPU-only order against every offer's cores, without GPU rates", () => {
    const matches = matchOrder(index, { requirements: req({ gpus: 0, cpuCores: 8 }), maxRates: [] });
    expect(matches[0]?.provider).toBe(addr(5));
    expect(matches.map((m) => m.gpuClass)).toEqual([undefined, undefined, undefined, undefined]);
    expect(matches[0]?.rates.map((r) => r.meter)).toEqual(["cpu_core_ms", "mem_mib_ms"]);
  });

  it("lists a provider once, at its cheapest fitting class, when the order names none", () => {
    const both = entryOf(
      offerOf(addr(9), {
        gpus: [
          { class: H100, count: 2, price: 3n * GRID },
          { class: A100, count: 2, price: GRID / 2n },
        ],
      }),
    );
    const matches = matchOffers([both], req(), []);
    expect(matches.map((m) => [m.provider, m.gpuClass])).toEqual([[addr(9), A100]]);
    // With a maximum below the A100's price, nothing else of it fits.
    expect(matchOffers([both], req(), [gpuMax(GRID / 4n)])).toEqual([]);
    expect(matchOffers([both], req({ vramMiB: 80_000 }), []).map((m) => m.gpuClass)).toEqual([H100]);
  });

  it("returns at most `limit` matches, the best ones", () => {
    const many = Array.from({ length: 50 }, (_, i) =>
      entryOf(offerOf(addr(100 + i), { gpus: [{ class: H100, count: 1, price: BigInt(50 - i) * GRID }] })),
    );
    const idx = createOfferIndex(many);
    const three = matchOrder(idx, { requirements: req(), maxRates: [] }, { limit: 3 });
    expect(three.map((m) => m.provider)).toEqual([addr(149), addr(148), addr(147)]);
    expect(matchOrder(idx, { requirements: req(), maxRates: [] }, { limit: 0 })).toEqual([]);
    expect(matchOrder(idx, { requirements: req(), maxRates: [] })).toHaveLength(10);
    expect(matchOffers(many, req(), [])).toHaveLength(50);
  });

  it("prices tiered offers with the rating engine and ranks them among the flat ones", () => {
    const tiered = offerOf(addr(7), { gpus: [{ class: H100, count: 1, price: 4n * GRID }] });
    // The first 10 GPU-hours at 1 GRID, 4 GRID above: an hour of one GPU costs 1 GRID.
    const gpu = tiered.rates[0] as Rate;
    tiered.rates[0] = { ...gpu, tiers: { mode: "graduated", bands: [{ upTo: 10n * HOUR_MS, price: GRID }] } };
    const matches = matchOffers([...book, entryOf(tiered)], req({ gpuClass: H100 }), []);
    expect(matches.map((m) => m.provider)).toEqual([addr(7), addr(2), addr(1)]);
    expect(matches[0]?.hourlyCost).toBe(GRID + (6n * GRID) / 100n);
  });

  // Small books exercise the edge cases (ties, one-slot trees, exact caps); large ones make trees
  // several levels deep, so that pruning decides what is searched.
  it.each([
    { books: "small", maxOffers: 25, numRuns: 400 },
    { books: "large", maxOffers: 400, numRuns: 40 },
  ])("agrees with the brute-force contract on random $books books and orders", ({ maxOffers, numRuns }) => {
    const price = fc.bigInt({ min: 1n, max: 10n ** 20n });
    const per = fc.constantFrom(HOUR_MS, 1_000n, 7n, HOUR_MS * 1024n);
    const gpu = fc.record({
      class: fc.constantFrom(H100, A100, T4),
      count: fc.integer({ min: 1, max: 8 }),
      freeShare: fc.integer({ min: 0, max: 8 }),
      price: fc.option(price, { nil: undefined }),
      per,
    });
    const offer = fc.record({
      gpus: fc.uniqueArray(gpu, { maxLength: 3, selector: (g) => g.class }),
      cpuCores: fc.integer({ min: 1, max: 64 }),
      freeCpu: fc.integer({ min: 0, max: 64 }),
      freeMem: fc.integer({ min: 0, max: 200_000 }),
      cpuHour: fc.option(price, { nil: undefined }),
      memGiBHour: fc.option(price, { nil: undefined }),
      maxDurationS: fc.integer({ min: 60, max: 100_000 }),
    });
    const order = fc.record({
      gpus: fc.integer({ min: 0, max: 4 }),
      gpuClass: fc.option(fc.constantFrom(H100, A100, T4), { nil: undefined }),
      vramMiB: fc.option(fc.integer({ min: 1, max: 90_000 }), { nil: undefined }),
      cpuCores: fc.integer({ min: 1, max: 40 }),
      memMiB: fc.integer({ min: 1, max: 150_000 }),
      maxDurationS: fc.integer({ min: 1, max: 100_000 }),
      maxGpu: fc.option(fc.tuple(price, per), { nil: undefined }),
      maxCpu: fc.option(fc.tuple(price, per), { nil: undefined }),
      limit: fc.constantFrom(1, 3, Number.POSITIVE_INFINITY),
    });
    fc.assert(
      fc.property(fc.array(offer, { maxLength: maxOffers }), order, (offers, o) => {
        const entries = offers.map((spec, i) =>
          entryOf(
            offerOf(addr(i + 1), {
              gpus: spec.gpus.map((g) => ({
                class: g.class,
                count: g.count,
                free: Math.min(g.count, g.freeShare),
                ...(g.price === undefined ? {} : { price: g.price }),
                per: g.per,
              })),
              cpuCores: spec.cpuCores,
              freeCpuCores: Math.min(spec.cpuCores, spec.freeCpu),
              memMiB: 200_000,
              freeMemMiB: spec.freeMem,
              cpuHour: spec.cpuHour,
              memGiBHour: spec.memGiBHour,
              maxDurationS: spec.maxDurationS,
            }),
          ),
        );
        const r: Requirements = {
          gpus: o.gpus,
          cpuCores: o.cpuCores,
          memMiB: o.memMiB,
          maxDurationS: o.maxDurationS,
          ...(o.gpuClass === undefined || o.gpus === 0 ? {} : { gpuClass: o.gpuClass }),
          ...(o.vramMiB === undefined ? {} : { vramMiB: o.vramMiB }),
        };
        const maxRates: Rate[] = [
          ...(o.maxGpu === undefined ? [] : [gpuMax(o.maxGpu[0], o.maxGpu[1])]),
          ...(o.maxCpu === undefined
            ? []
            : [{ meter: "cpu_core_ms" as const, price: o.maxCpu[0], per: o.maxCpu[1] }]),
        ];
        const expected = bruteForce(entries, r, maxRates).slice(0, o.limit);
        const got = matchOrder(createOfferIndex(entries), { requirements: r, maxRates }, { limit: o.limit });
        expect(
          got.map((m) => ({
            provider: m.provider.toLowerCase(),
            gpuClass: m.gpuClass,
            hourlyCost: m.hourlyCost,
          })),
        ).toEqual(expected);
        for (const m of got) expect(m.hourlyCost).toBe(estimateCost(m.rates, r, HOUR_MS));
      }),
      { numRuns },
    );
  });

  it("finds the same best ten as the brute force on a 3,000-offer book", () => {
    // The speed of this path is measured by `npm run bench:market`; here only what it answers.
    const classes = [H100, A100, T4, "nvidia-l4-24gb", "nvidia-rtx4090-24gb"];
    const random = prng(42);
    const pick = (n: number) => Math.floor(random() * n);
    const entries = Array.from({ length: 3_000 }, (_, i) => {
      const count = 1 + pick(8);
      return entryOf(
        offerOf(addr(i + 1), {
          gpus: [classes[i % classes.length] as string, classes[pick(classes.length)] as string]
            .filter((cls, k, all) => all.indexOf(cls) === k)
            .map((cls) => ({
              class: cls,
              count,
              free: pick(count + 1),
              price: GRID + BigInt(pick(1_000_000)) * 10n ** 13n,
            })),
          freeCpuCores: pick(33),
          freeMemMiB: pick(131_073),
          cpuHour: BigInt(1 + pick(50)) * (GRID / 1000n),
          memGiBHour: BigInt(1 + pick(20)) * (GRID / 1000n),
          maxDurationS: [3_600, 86_400][pick(2)] as number,
        }),
      );
    });
    const index = createOfferIndex(entries);
    let matched = 0;
    for (let i = 0; i < 150; i++) {
      const gpus = [0, 1, 1, 2, 4, 8][pick(6)] as number;
      const r = req({
        gpus,
        ...(gpus > 0 && pick(3) > 0 ? { gpuClass: classes[pick(classes.length)] as string } : {}),
        cpuCores: 1 + pick(16),
        memMiB: 1024 * (1 + pick(64)),
        maxDurationS: [600, 7_200][pick(2)] as number,
      });
      const maxRates = pick(2) === 0 ? [] : [gpuMax(GRID + BigInt(pick(1_000_000)) * 10n ** 13n)];
      const got = matchOrder(index, { requirements: r, maxRates });
      expect(
        got.map((m) => ({
          provider: m.provider.toLowerCase(),
          gpuClass: m.gpuClass,
          hourlyCost: m.hourlyCost,
        })),
      ).toEqual(bruteForce(entries, r, maxRates).slice(0, 10));
      matched += got.length;
    }
    expect(matched).toBeGreaterThan(500);
  });
});
