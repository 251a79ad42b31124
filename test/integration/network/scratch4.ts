import { openEnvelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { capacityOffer } from "../../../marketplace/messages/offer.ts";
import { newAccount } from "./support.ts";
const a = newAccount();
const payload = { provider: a.address, peerId: "12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN", addrs: ["/ip4/127.0.0.1/tcp/4001"], resources: [{ class: "nvidia-h100-80gb", count: 8, free: 8, vramMiB: 81920 }], cpuCores: 64, freeCpuCores: 64, memMiB: 1000, freeMemMiB: 1000, rates: [{ meter: "gpu_ms", price: "1", per: "3600000" }], maxDurationS: 100, seq: 1 };
const envs = [];
let t = performance.now();
for (let i = 0; i < 200; i++) envs.push(await signEnvelope(a, { chainId: 1, kind: "CapacityOffer", peerId: payload.peerId, expiresAt: 2e9, payload: { ...payload, seq: i } }));
console.log("sign ms", (performance.now() - t) / 200);
t = performance.now();
for (const e of envs) { const r = await openEnvelope(e, { chainId: 1, kind: "CapacityOffer", schema: capacityOffer, signerField: "provider" }); if (!r.ok) throw new Error(r.detail); }
console.log("open ms", (performance.now() - t) / 200, "bytes", JSON.stringify(envs[0]).length);
