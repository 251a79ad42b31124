// Discovery: 50 real libp2p hosts on 127.0.0.1, each told of a single bootstrap peer (five
// backbone hosts in a chain, every other host on one of them), find each other through the DHT
// and end up well connected; signed CapacityOffers from 10 of them reach all 40 others.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { addrOf, listenForOffers, newAccount, offerOf, signedOfferBytes, startHost, stopAll } from "./support.ts";
import { OFFERS_TOPIC } from "../../../marketplace/p2p/constants.ts";

const NODES = 50;
const BACKBONE = 5;
const PUBLISHER_INDICES = [1, 7, 12, 18, 23, 29, 34, 40, 45, 49];
/** Publishers re-advertise this often (providers do every 30 s; shorter here to bound the test). */
const REPUBLISH_MS = 3_000;
const CONVERGE_WITHIN_MS = 40_000;

const hosts: GridspotHost[] = [];
const bootstrapOf: (number | undefined)[] = [];

beforeAll(async () => {
  for (let i = 0; i < NODES; i++) {
    // Hosts 1-4 chain onto the previous one; every later host knows one backbone host only.
    const boot = i === 0 ? undefined : i < BACKBONE ? i - 1 : i % BACKBONE;
    bootstrapOf.push(boot);
    const peer = boot === undefined ? undefined : hosts[boot];
    // Providers and bootstrap hosts answer DHT queries; the listeners, like submitter CLIs, are
    // DHT clients.
    const dhtServer = i < BACKBONE || PUBLISHER_INDICES.includes(i);
    hosts.push(await startHost(peer === undefined ? [] : [addrOf(peer)], { dhtServer }));
  }
}, 60_000);

afterAll(() => stopAll(hosts), 30_000);

it("50 hosts that each know one bootstrap peer converge, and every offer reaches every listener", async () => {
  const started = Date.now();
  const publishers = PUBLISHER_INDICES.map((i) => ({ index: i, host: hosts[i] as GridspotHost, account: newAccount() }));
  const listeners = hosts.map((host, index) => ({ host, index })).filter((l) => !PUBLISHER_INDICES.includes(l.index));
  const heard = new Map<number, Set<string>>(listeners.map((l) => [l.index, new Set<string>()]));
  for (const l of listeners) listenForOffers(l.host, (offer) => heard.get(l.index)?.add(offer.provider));
  for (const p of publishers) p.host.services.pubsub.subscribe(OFFERS_TOPIC);

  const everyoneHeardEveryone = () =>
    [...heard.values()].every((providers) => publishers.every((p) => providers.has(p.account.address)));
  let seq = 0;
  while (!everyoneHeardEveryone() && Date.now() - started < CONVERGE_WITHIN_MS) {
    seq += 1;
    await Promise.all(
      publishers.map(async (p) =>
        p.host.services.pubsub.publish(OFFERS_TOPIC, await signedOfferBytes(p.account, p.host, offerOf(p.account, p.host, seq))),
      ),
    );
    await sleep(REPUBLISH_MS);
  }
  const elapsedMs = Date.now() - started;
  const missing = listeners.flatMap((l) =>
    publishers.filter((p) => !heard.get(l.index)?.has(p.account.address)).map((p) => `${p.index}->${l.index}`),
  );
  const connections = hosts.map((h) => new Set(h.getConnections().map((c) => c.remotePeer.toString())).size);
  process.stderr.write(
    `discovery: converged=${missing.length === 0} after ${elapsedMs} ms (${seq} rounds); connections min ${Math.min(...connections)} median ${[...connections].sort((a, b) => a - b)[NODES >> 1]} max ${Math.max(...connections)}\n`,
  );
  expect(missing).toEqual([]);
  // Discovery, not the static links, made the network: a host that was told of one peer now has
  // many more (a leaf of the bootstrap star would have exactly one without it).
  expect(Math.min(...connections)).toBeGreaterThanOrEqual(4);
  expect(hosts.reduce((n, h) => n + h.services.peers.discoveryDials, 0)).toBeGreaterThan(NODES);
}, 60_000);
