import { addrOf, startHost, stopAll, listenForOffers, newAccount, offerOf, signedOfferBytes } from "./support.ts";
import { OFFERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../../marketplace/p2p/createHost.ts";
const N = Number(process.argv[2] ?? 20);
const hosts: GridspotHost[] = [];
const t0 = Date.now();
for (let i = 0; i < N; i++) {
  const boot = i === 0 ? undefined : i < 5 ? i - 1 : i % 5;
  const peer = boot === undefined ? undefined : hosts[boot];
  const tt = Date.now(); hosts.push(await startHost(peer === undefined ? [] : [addrOf(peer)])); if (i % 5 === 4) console.log("host", i, Date.now() - tt, "ms", "total", Date.now() - t0);
}
console.log("created", Date.now() - t0);
const heard = hosts.map(() => new Set<string>());
hosts.forEach((h, i) => listenForOffers(h, (o) => heard[i]!.add(o.provider)));
const pubs = [1, 7, 12].map((i) => ({ h: hosts[i]!, a: newAccount() }));
for (let k = 0; k < Number(process.argv[3] ?? 15); k++) {
  for (const p of pubs) {
    const r = await p.h.services.pubsub.publish(OFFERS_TOPIC, await signedOfferBytes(p.a, p.h, offerOf(p.a, p.h, k + 1)));
    if (k % 5 === 0) console.log("recipients", r.recipients.length, "mesh", p.h.services.pubsub.getMeshPeers?.(OFFERS_TOPIC)?.length, "subs", p.h.services.pubsub.getSubscribers(OFFERS_TOPIC).length);
  }
  await new Promise((r) => setTimeout(r, 1000));
  console.log("t", Date.now() - t0, heard.map((s) => s.size).join(","), "conns", hosts.map((h) => h.getConnections().length).join(","));
}
await stopAll(hosts);
console.log("stopped", Date.now() - t0);
