import { monitorEventLoopDelay } from "node:perf_hooks";
import { addrOf, startHost, stopAll, listenForOffers, newAccount, offerOf, signedOfferBytes } from "./support.ts";
import { OFFERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../../marketplace/p2p/createHost.ts";
const N = Number(process.argv[2] ?? 50);
const PUBS = [1, 7, 12, 18, 23, 29, 34, 40, 45, 49].filter((i) => i < N);
const hosts: GridspotHost[] = [];
let opens = 0, closes = 0;
const t0 = Date.now();
const cpu0 = process.cpuUsage();
const cpu = () => { const c = process.cpuUsage(cpu0); return ((c.user + c.system) / 1e6).toFixed(1); };
const lag = monitorEventLoopDelay({ resolution: 20 }); lag.enable();
for (let i = 0; i < N; i++) {
  const boot = i === 0 ? undefined : i < 5 ? i - 1 : i % 5;
  const peer = boot === undefined ? undefined : hosts[boot];
  const h = await startHost(peer === undefined ? [] : [addrOf(peer)], { dhtServer: i < 5 || PUBS.includes(i), minConnections: Number(process.env.MINC ?? 8) });
  h.addEventListener("connection:open", () => opens++);
  h.addEventListener("connection:close", () => closes++);
  hosts.push(h);
}
console.log("created", Date.now() - t0, "cpu", cpu(), "opens", opens, "closes", closes, "lag max", (lag.max / 1e6).toFixed(0));
lag.reset();
import { Session } from "node:inspector/promises";
import { writeFileSync } from "node:fs";
const session = new Session(); session.connect(); await session.post("Profiler.enable"); await session.post("Profiler.start");
const heard = hosts.map(() => new Set<string>());
hosts.forEach((h, i) => listenForOffers(h, (o) => heard[i]!.add(o.provider)));
const pubs = PUBS.map((i) => ({ h: hosts[i]!, a: newAccount() }));
for (let k = 0; k < Number(process.argv[3] ?? 10); k++) {
  if (k % 3 === 0) for (const p of pubs) await p.h.services.pubsub.publish(OFFERS_TOPIC, await signedOfferBytes(p.a, p.h, offerOf(p.a, p.h, k + 1)));
  await new Promise((r) => setTimeout(r, 1000));
  const conns = hosts.map((h) => h.getConnections().length);
  const full = heard.filter((s, i) => s.size >= pubs.length - (PUBS.includes(i) ? 1 : 0)).length;
  console.log("t", Date.now() - t0, "cpu", cpu(), "opens", opens, "closes", closes, "min", Math.min(...conns), "full", full, "lag max", (lag.max / 1e6).toFixed(0), "p50", (lag.percentile(50) / 1e6).toFixed(0));
  lag.reset();
}
const { profile } = await session.post("Profiler.stop"); writeFileSync("/tmp/prof/run.cpuprofile", JSON.stringify(profile));
await stopAll(hosts);
