// A bare libp2p host built with the product's own createHost, driven by hand: it publishes whatever
// bytes a test gives it on the orders topic, opens protocol streams and writes raw frames, and
// records the Bids and Declines providers send back to it. Its Ethereum key signs what it sends.
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import type { Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { envelope } from "../../../marketplace/messages/envelope.ts";
import { BID_PROTOCOL, MAX_BID_FRAME_BYTES, ORDERS_TOPIC } from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { frameChannel } from "../../../marketplace/p2p/frames.ts";
import { waitFor } from "./waitFor.ts";

export type RawPeer = {
  host: GridspotHost;
  peerId: string;
  account: LocalAccount;
  /** Kind and orderId of every Bid/Decline envelope received on `/gridspot/bid/1.0.0`. */
  answers: { kind: string; orderId: string }[];
  publish(data: Uint8Array | string): Promise<void>;
  /** A stream to `peer` on `protocol`, at `addrs` when it is not connected yet. */
  dial(peer: string, protocol: string, addrs?: string[]): Promise<Stream>;
  stop(): Promise<void>;
};

export async function createRawPeer(p: { key: Hex; connectTo: string[] }): Promise<RawPeer> {
  const host = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: p.connectTo,
    localNetwork: true,
  });
  const answers: RawPeer["answers"] = [];
  await host.handle(BID_PROTOCOL, (stream) => {
    void (async () => {
      const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
      try {
        const env = await channel.read(envelope, { signal: AbortSignal.timeout(5_000) });
        answers.push({
          kind: env.kind,
          orderId: String((JSON.parse(env.payload) as { orderId?: unknown }).orderId),
        });
      } catch {
        // Not for us to judge here: only what arrives is recorded.
      } finally {
        await channel.close();
      }
    })();
  });
  // Gossip reaches a peer once its subscription is known: wait for every peer we dialled.
  const peers = p.connectTo.map(
    (a) =>
      multiaddr(a)
        .getComponents()
        .find((c) => c.name === "p2p")?.value,
  );
  await waitFor("the orders topic subscriptions of the peers", () => {
    const subscribers = host.services.pubsub.getSubscribers(ORDERS_TOPIC).map((s) => s.toString());
    return peers.every((peer) => peer !== undefined && subscribers.includes(peer)) ? true : undefined;
  });
  return {
    host,
    peerId: host.peerId.toString(),
    account: privateKeyToAccount(p.key),
    answers,
    async publish(data) {
      await host.services.pubsub.publish(
        ORDERS_TOPIC,
        typeof data === "string" ? new TextEncoder().encode(data) : data,
      );
    },
    async dial(peer, protocol, addrs = []) {
      const id = peerIdFromString(peer);
      if (addrs.length > 0) await host.peerStore.merge(id, { multiaddrs: addrs.map((a) => multiaddr(a)) });
      return host.dialProtocol(id, protocol, { signal: AbortSignal.timeout(10_000) });
    },
    async stop() {
      await host.stop();
    },
  };
}

/** A varint length prefix (unsigned LEB128), to write frame headers by hand. */
export function varint(n: number): Uint8Array {
  const bytes: number[] = [];
  let v = n;
  while (v >= 0x80) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Uint8Array.from(bytes);
}

/** One length-prefixed frame of arbitrary bytes, as `frameChannel` would frame it. */
export function rawFrame(body: Uint8Array | string): Uint8Array {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const out = new Uint8Array(varint(bytes.length).length + bytes.length);
  out.set(varint(bytes.length));
  out.set(bytes, varint(bytes.length).length);
  return out;
}
