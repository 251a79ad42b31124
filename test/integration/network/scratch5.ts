import { addrOf, startHost, stopAll } from "./support.ts";
import type { GridspotHost } from "../../../marketplace/p2p/createHost.ts";
const N = 50, PUBS = [1, 7, 12, 18, 23, 29, 34, 40, 45, 49];
const hosts: GridspotHost[] = [];
const t0 = Date.now();
const boot = (i: number) => (i === 0 ? undefined : i < 5 ? i - 1 : i % 5);
const start = (i: number) => { const b = boot(i); return startHost(b === undefined ? [] : [addrOf(hosts[b]!)], { dhtServer: i < 5 || PUBS.includes(i), abortConnectionOnPingFailure: false }); };
for (let i = 0; i < 5; i++) hosts[i] = await start(i);
for (let i = 5; i < N; i += 5) { const b = [i, i + 1, i + 2, i + 3, i + 4]; const s = await Promise.all(b.map(start)); b.forEach((j, k) => (hosts[j] = s[k]!)); }
console.log("created", Date.now() - t0);
const peersOf = (h: GridspotHost) => new Set(h.getConnections().map((c) => c.remotePeer.toString())).size;
for (let k = 0; k < 12; k++) {
  await new Promise((r) => setTimeout(r, 2000));
  const c = hosts.map(peersOf);
  const poor = await Promise.all(c.flatMap((n, i) => (n < 4 ? [i] : [])).map(async (i) => {
    const h = hosts[i]!;
    const known = (await h.peerStore.all()).length;
    const rt = (h.services.dht as unknown as { routingTable: { size: number } }).routingTable.size;
    return `#${i}(${c[i]} peers, known ${known}, rt ${rt}, dials ${h.services.peers.discoveryDials}, mode ${h.services.dht.getMode()})`;
  }));
  console.log("t", Date.now() - t0, "min", Math.min(...c), "poor", poor.join(" "));
}
await stopAll(hosts);
