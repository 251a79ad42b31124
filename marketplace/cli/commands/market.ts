import { parseArgs } from "node:util";
import { UsageError } from "../../errors/usage.ts";
import type { Requirements } from "../../messages/order.ts";
import type { Rate } from "../../messages/primitives.ts";
import { listOffers } from "../../offer/listOffers.ts";
import type { BookEntry } from "../../offer/offerBook.ts";
import { openMarketView } from "../../offer/openMarketView.ts";
import { priceStats } from "../../offer/priceStats.ts";
import { waitForOffers } from "../../offer/waitForOffers.ts";
import { quoteOrder } from "../../order/quoteOrder.ts";
import { HOUR_MS } from "../../rating/constants.ts";
import { formatGrid, parseGrid, parsePositiveInt } from "../format.ts";
import { GLOBAL_OPTION_SPEC, type GlobalOptions, resolveGlobalOptions } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

const GPU_CLASS = /^[a-z0-9]+-[a-z0-9]+-[0-9]+gb$/;
/** How long the market commands listen for offers by default, and at most. */
const DEFAULT_WAIT_MS = 3_000;
const MAX_WAIT_MS = 60_000;

const MARKET_OPTIONS = {
  ...GLOBAL_OPTION_SPEC,
  wait: { type: "string" },
  "min-offers": { type: "string" },
  "gpu-class": { type: "string" },
} as const;

const QUOTE_OPTIONS = {
  ...MARKET_OPTIONS,
  gpus: { type: "string" },
  cpus: { type: "string" },
  mem: { type: "string" },
  vram: { type: "string" },
  "max-duration": { type: "string" },
  "max-price-gpu-hour": { type: "string" },
} as const;

/** `market offers [--gpu-class C]`: every live offer, one line per provider and GPU class. */
export async function marketOffers(argv: string[]): Promise<CommandResult> {
  const { values } = parseArgs({ args: argv, strict: true, options: MARKET_OPTIONS });
  const gpuClass = parseGpuClass(values["gpu-class"]);
  const { entries, waitedMs } = await collectOffers(resolveGlobalOptions(values, "submitter"), values);
  const rows = listOffers(entries, { gpuClass });
  const now = Date.now();
  const json = {
    waitedMs,
    offers: rows.map((r) => ({ ...r, lastSeen: new Date(r.receivedAt).toISOString() })),
  };
  if (rows.length === 0) return { json, text: noOffersText(entries.length, gpuClass) };
  const table = [
    ["PROVIDER", "CLASS", "GPUS FREE", "CORES FREE", "MEM FREE", "GPU-HOUR", "CORE-HOUR", "GIB-HOUR", "SEEN"],
    ...rows.map((r) => [
      r.provider,
      r.gpuClass ?? "(cpu only)",
      r.gpuClass === null ? "-" : `${r.gpusFree}/${r.gpusTotal}`,
      `${r.cpuCoresFree}/${r.cpuCores}`,
      `${r.memMiBFree}/${r.memMiB} MiB`,
      money(r.gpuHour),
      money(r.cpuCoreHour),
      money(r.memGiBHour),
      `${Math.max(0, Math.round((now - r.receivedAt) / 1000))} s ago`,
    ]),
  ];
  return { json, text: `${formatTable(table)}\nPrices in GRID per GPU-hour, core-hour and GiB-hour.` };
}

/** `market prices`: per GPU class, the min / median / max GPU-hour price and the free GPUs. */
export async function marketPrices(argv: string[]): Promise<CommandResult> {
  const { values } = parseArgs({ args: argv, strict: true, options: MARKET_OPTIONS });
  const gpuClass = parseGpuClass(values["gpu-class"]);
  const { entries, waitedMs } = await collectOffers(resolveGlobalOptions(values, "submitter"), values);
  const classes = priceStats(entries).filter((c) => gpuClass === undefined || c.gpuClass === gpuClass);
  const json = { waitedMs, offers: entries.length, classes };
  if (classes.length === 0) return { json, text: noOffersText(entries.length, gpuClass) };
  const table = [
    ["CLASS", "PROVIDERS", "GPUS FREE", "MIN", "MEDIAN", "MAX"],
    ...classes.map((c) => [
      c.gpuClass,
      String(c.providers),
      `${c.freeGpus}/${c.totalGpus}`,
      money(c.min),
      money(c.median),
      money(c.max),
    ]),
  ];
  return {
    json,
    text: `${formatTable(table)}\nPrices in GRID per GPU-hour, from ${entries.length} live offer(s).`,
  };
}

/**
 * `market quote --gpus N [...]`: what the order would pay now from the live offers, the cheapest
 * fitting offer's cost per hour and for the maximum duration, and how many providers could take it.
 */
export async function marketQuote(argv: string[]): Promise<CommandResult> {
  const { values } = parseArgs({ args: argv, strict: true, options: QUOTE_OPTIONS });
  const gpuClass = parseGpuClass(values["gpu-class"]);
  const gpus = parsePositiveInt(values.gpus, "--gpus", 0);
  const vram = values.vram === undefined ? undefined : parsePositiveInt(values.vram, "--vram", 0);
  const requirements: Requirements = {
    gpus,
    ...(gpuClass === undefined ? {} : { gpuClass }),
    ...(vram === undefined ? {} : { vramMiB: vram }),
    cpuCores: Math.max(1, parsePositiveInt(values.cpus, "--cpus", 1)),
    memMiB: Math.max(1, parsePositiveInt(values.mem, "--mem", 512)),
    maxDurationS: Math.max(1, parsePositiveInt(values["max-duration"], "--max-duration", 3600)),
  };
  if (gpus === 0 && gpuClass !== undefined) throw new UsageError("--gpu-class needs --gpus N (N ≥ 1)");
  const maxRates: Rate[] =
    values["max-price-gpu-hour"] === undefined
      ? []
      : [
          {
            meter: "gpu_ms",
            price: parseGrid(values["max-price-gpu-hour"], "--max-price-gpu-hour"),
            per: HOUR_MS,
          },
        ];
  const { entries, waitedMs } = await collectOffers(resolveGlobalOptions(values, "submitter"), values);
  const quote = quoteOrder(entries, requirements, maxRates);
  const json = {
    waitedMs,
    requirements,
    maxRates,
    offers: quote.offers,
    providers: quote.providers,
    cheapest: quote.cheapest,
    best: quote.best.map((m) => ({
      provider: m.provider,
      gpuClass: m.gpuClass ?? null,
      hourlyCost: m.hourlyCost,
      rates: m.rates,
    })),
    misfits: quote.misfits,
  };
  const wanted = `${gpus > 0 ? `${gpus} × ${gpuClass ?? "any GPU"}, ` : ""}${requirements.cpuCores} core(s), ${requirements.memMiB} MiB for up to ${requirements.maxDurationS} s`;
  const why = quote.misfits.map((m) => `${m.count} ${m.reason}`).join(", ");
  if (quote.cheapest === null) {
    return {
      json,
      text: [
        `No live offer takes ${wanted}.`,
        quote.offers === 0 ? noOffersText(0, undefined) : `${quote.offers} offer(s) seen: ${why}.`,
      ].join("\n"),
    };
  }
  const c = quote.cheapest;
  return {
    json,
    text: [
      `Quote for ${wanted}:`,
      `  cheapest   ${c.provider} (${c.gpuClass ?? "CPU only"})`,
      `  per hour   ${formatGrid(c.hourlyCost)}`,
      `  for ${requirements.maxDurationS} s  ${formatGrid(c.maxDurationCost)}`,
      `  providers  ${quote.providers} of ${quote.offers} could take it now${why === "" ? "" : ` (others: ${why})`}`,
    ].join("\n"),
  };
}

/** Joins the market, listens for offers (bounded), and leaves. */
async function collectOffers(
  options: GlobalOptions,
  flags: { wait?: string | undefined; "min-offers"?: string | undefined },
): Promise<{ entries: BookEntry[]; waitedMs: number }> {
  const maxMs = parseWait(flags.wait);
  const minOffers =
    flags["min-offers"] === undefined ? undefined : parsePositiveInt(flags["min-offers"], "--min-offers", 0);
  if (options.bootstrap.length === 0)
    throw new UsageError(
      "Give a peer to join the market through: --bootstrap MULTIADDR (or GRIDSPOT_BOOTSTRAP)",
    );
  const view = await openMarketView({
    rpcUrl: options.rpcUrl,
    deploymentsDir: options.deploymentsDir,
    bootstrap: options.bootstrap,
    localNetwork: options.localNetwork,
  });
  try {
    if (!options.json) process.stderr.write(`gridspot: listening for offers (up to ${maxMs / 1000} s)\n`);
    const waitedMs = await waitForOffers(view.book, {
      maxMs,
      ...(minOffers === undefined ? {} : { minOffers }),
    });
    return { entries: view.book.offers(), waitedMs };
  } finally {
    await view.close();
  }
}

function parseWait(text: string | undefined): number {
  if (text === undefined) return DEFAULT_WAIT_MS;
  if (!/^\d+(\.\d{1,3})?$/.test(text))
    throw new UsageError(`--wait takes seconds, e.g. 3 or 0.5, got "${text}"`);
  const ms = Math.round(Number(text) * 1000);
  if (ms > MAX_WAIT_MS) throw new UsageError(`--wait is at most ${MAX_WAIT_MS / 1000} s`);
  return ms;
}

function parseGpuClass(text: string | undefined): string | undefined {
  if (text !== undefined && !GPU_CLASS.test(text))
    throw new UsageError(`--gpu-class must look like nvidia-h100-80gb, got "${text}"`);
  return text;
}

function money(amount: bigint | null): string {
  return amount === null ? "-" : formatGrid(amount).replace(/ GRID$/, "");
}

function noOffersText(offers: number, gpuClass: string | undefined): string {
  return offers === 0
    ? "No offers yet: no active provider published one while we listened (try a longer --wait or another --bootstrap)."
    : `None of the ${offers} live offer(s) has ${gpuClass ?? "GPUs"}.`;
}

function formatTable(rows: string[][]): string {
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
