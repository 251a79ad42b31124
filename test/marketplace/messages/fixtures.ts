import type { Agreement } from "../../../marketplace/messages/agreement.ts";
import type { Bid, BidAnswer, Decline } from "../../../marketplace/messages/bid.ts";
import type { JobStart } from "../../../marketplace/messages/job.ts";
import type { CapacityOffer } from "../../../marketplace/messages/offer.ts";
import type { JobOrder } from "../../../marketplace/messages/order.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";

/** Valid values for market messages, shared by the message, order, receipt and node tests. */
// Hardhat's well-known development keys #1 and #0 (public test keys, hold nothing).
export const PROVIDER_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
export const SUBMITTER_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
export const PROVIDER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
export const SUBMITTER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
export const ESCROW = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
export const PEER_A = "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN";
export const PEER_B = "12D3KooWHFrmLWTTDD4NodngtRMEVYgxrsDhBJNYgxdR3a6gGrXY";
export const H100 = "nvidia-h100-80gb";
export const HOUR_MS = 3_600_000n;
export const GRID = 10n ** 18n;

/** 2 GRID per GPU-hour, 0.02 per core-hour, 0.005 per GiB-hour. */
export const RATES: Rate[] = [
  { meter: "gpu_ms", price: 2n * GRID, per: HOUR_MS },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
  { meter: "mem_mib_ms", price: GRID / 200n, per: HOUR_MS * 1024n },
];

export const offer: CapacityOffer = {
  provider: PROVIDER,
  peerId: PEER_A,
  addrs: ["/ip4/127.0.0.1/tcp/4001"],
  resources: [{ class: H100, count: 2, free: 1, vramMiB: 81559 }],
  cpuCores: 32,
  freeCpuCores: 16,
  memMiB: 131072,
  freeMemMiB: 65536,
  rates: RATES.map((r) => (r.meter === "gpu_ms" ? { ...r, gpuClass: H100 } : r)),
  maxDurationS: 86_400,
  seq: 1_700_000_000_000,
};

export const order: JobOrder = {
  orderId: "order-0001",
  submitter: SUBMITTER,
  peerId: PEER_B,
  addrs: [],
  requirements: { gpuClass: H100, gpus: 1, cpuCores: 4, memMiB: 8192, maxDurationS: 3600 },
  maxRates: [{ meter: "gpu_ms", price: 3n * GRID, per: HOUR_MS }],
  bidWindowMs: 1500,
  explain: true,
};

export const bid: Bid = {
  orderId: "order-0001",
  provider: PROVIDER,
  peerId: PEER_A,
  addrs: [],
  gpuClass: H100,
  rates: RATES,
  pricing: "fixed",
  granularity: "ms",
  receiptIntervalMs: 5000,
  validUntil: 1_700_000_100,
};

export const decline: Decline = {
  orderId: "order-0001",
  provider: PROVIDER,
  reason: "no-capacity",
  detail: "busy",
};

export const accept: BidAnswer = { type: "accept", orderId: "order-0001", jobId: "job-00000001" };

export const agreement: Agreement = {
  jobId: "job-00000001",
  orderId: "order-0001",
  submitter: SUBMITTER,
  submitterPeerId: PEER_B,
  provider: PROVIDER,
  providerPeerId: PEER_A,
  escrow: ESCROW,
  gpuClass: H100,
  gpus: 1,
  cpuCores: 4,
  memMiB: 8192,
  maxDurationS: 3600,
  rates: RATES,
  maxRates: RATES,
  pricing: "fixed",
  granularity: "ms",
  receiptIntervalMs: 5000,
  graceIntervals: 2,
  startBy: 1_700_000_060,
};

export const jobStart: JobStart = {
  jobId: "job-00000001",
  agreement,
  channelId: 7n,
  channelBase: 100n,
  spec: { command: "python3", args: ["train.py"], env: { EPOCHS: "3" }, outputs: ["model.bin"] },
  // sha256 of "print(1)"
  inputs: [
    { path: "train.py", size: 8, sha256: "d287bb7f9d15abdc5b6e98536263815744b6ef21c8f3c839fc434ca70d8efe99" },
  ],
};

export const debitNote: DebitNote = {
  jobId: "job-00000001",
  channelId: 7n,
  seq: 0,
  elapsedMs: 10_000,
  usage: [
    { meter: "gpu_ms", quantity: 10_000n },
    { meter: "cpu_core_ms", quantity: 20_000n },
    { meter: "mem_mib_ms", quantity: 8192n * 10_000n },
  ],
  rates: RATES,
  // By hand: floor(10_000 × 2e18 / 3.6e6) + floor(20_000 × 2e16 / 3.6e6) + floor(8192e4 × 5e15 / 3.6864e9)
  // = 5_555_555_555_555_555 + 111_111_111_111_111 + 111_111_111_111_111.
  jobAmount: 5_777_777_777_777_777n,
  channelCumulative: 100n + 5_777_777_777_777_777n,
  eventsHash: `0x${"ab".repeat(32)}`,
  eventCount: 3,
  firstEventId: "job-1:gpu_ms:0",
  lastEventId: "job-1:mem_mib_ms:0",
  final: false,
};
