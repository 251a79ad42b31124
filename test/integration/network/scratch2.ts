import { addrOf, startHost, stopAll } from "./support.ts";
import type { GridspotHost } from "../../../marketplace/p2p/createHost.ts";
const N = Number(process.argv[2] ?? 20);
const hosts: GridspotHost[] = [];
let opens = 0, closes = 0;
const t0 = Date.now();
const cpu0 = process.cpuUsage();
for (let i = 0; i < N; i++) {
  const boot = i === 0 ? undefined : i < 5 ? i - 1 : i % 5;
  const peer = boot === undefined ? undefined : hosts[boot];
  const server = i < 5 || [1, 7, 12, 18, 23, 29, 34, 40, 45, 49].includes(i) || process.env.ALLSERVER === "1";
  const h = await startHost(peer === undefined ? [] : [addrOf(peer)], { dhtServer: server });
  h.addEventListener("connection:open", () => opens++);
  h.addEventListener("connection:close", () => closes++);
  hosts.push(h);
}
const cpu = () => { const c = process.cpuUsage(cpu0); return ((c.user + c.system) / 1e6).toFixed(1); };
console.log("created", Date.now() - t0, "cpu", cpu(), "opens", opens, "closes", closes);
for (let k = 0; k < 10; k++) {
  await new Promise((r) => setTimeout(r, 1000));
  const conns = hosts.map((h) => h.getConnections().length);
  console.log("t", Date.now() - t0, "cpu", cpu(), "opens", opens, "closes", closes, "sum", conns.reduce((a, b) => a + b, 0), "min", Math.min(...conns), "dials", hosts.reduce((n, h) => n + h.services.peers.discoveryDials, 0));
}
await stopAll(hosts);
