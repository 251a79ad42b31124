import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { type GossipSub, gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { PrivateKey } from "@libp2p/interface";
import { type KadDHT, kadDHT, passthroughMapper, removePrivateAddressesMapper } from "@libp2p/kad-dht";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p, type Libp2p } from "libp2p";
import {
  DHT_PROTOCOL,
  MAX_GOSSIP_MESSAGE_BYTES,
  MAX_GOSSIP_RPC_BYTES,
  MIN_CONNECTIONS,
  OFFERS_TOPIC,
  ORDERS_TOPIC,
} from "./constants.ts";
import { MARKET_SCORE_THRESHOLDS, marketScoreParams } from "./gossipScoring.ts";
import { type KeepPeers, keepPeers } from "./keepPeers.ts";
import { installHalfWindowUpdates } from "./yamuxWindowUpdates.ts";

export type GridspotHost = Libp2p<{
  pubsub: GossipSub;
  identify: ReturnType<ReturnType<typeof identify>>;
  ping: ReturnType<ReturnType<typeof ping>>;
  dht: KadDHT;
  peers: KeepPeers;
}>;

export type CreateHostParameters = {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[];
  /**
   * Multiaddrs (with /p2p/<id>) dialled at start and redialled when they drop. One is enough: the
   * DHT and gossipsub peer exchange find the rest of the network.
   */
  bootstrap?: string[];
  /**
   * Every peer is on 127.0.0.1 or a private network (tests, local demos). Turns off gossipsub's
   * IP-colocation penalty, which would otherwise break a mesh of many peers on one address, keeps
   * private addresses in DHT records, and exempts loopback peers from libp2p's per-IP inbound
   * connection rate limit. Production keeps all three defaults.
   */
  localNetwork?: boolean;
  /**
   * Answer other peers' DHT queries (default true: providers and other long-running nodes). A
   * short-lived client, such as the submitter CLI, may pass false: it still uses the DHT.
   */
  dhtServer?: boolean;
  /**
   * A well-connected node (a bootstrap peer): when it prunes peers from a crowded gossip mesh it
   * tells them of other peers to connect to. Peers take that only from their bootstrap peers.
   */
  peerExchange?: boolean;
  /**
   * Close a connection whose ping (every 10 s, 5 s timeout at least) fails: the default. Only many
   * hosts sharing one process (tests, benchmarks) turn it off: a starved event loop there delays
   * pings of live connections, and closing them would tear the whole simulated network down.
   */
  abortConnectionOnPingFailure?: boolean;
  /** Connections to keep at least (MIN_CONNECTIONS). */
  minConnections?: number;
};

const LOOPBACK_NETWORKS = ["/ip4/127.0.0.0/ipcidr/8", "/ip6/::1/ipcidr/128"];

/**
 * Gossip messages above MAX_GOSSIP_MESSAGE_BYTES fail the inbound transform, which gossipsub counts
 * as an invalid message from the sender (a Reject, with its score penalty). Outbound is left alone:
 * the receivers are the ones that enforce the limit.
 */
const messageSizeLimit = {
  inboundTransform(topic: string, data: Uint8Array): Uint8Array {
    if (data.byteLength > MAX_GOSSIP_MESSAGE_BYTES) {
      throw new RangeError(`${data.byteLength}-byte message on ${topic} exceeds ${MAX_GOSSIP_MESSAGE_BYTES}`);
    }
    return data;
  },
  outboundTransform: (_topic: string, data: Uint8Array): Uint8Array => data,
};

/**
 * A libp2p host with TCP, Noise, Yamux, identify, ping, gossipsub with peer scoring, the market's
 * Kademlia DHT and a service that keeps it connected to enough peers, as gridspot nodes use it.
 * When it resolves, every bootstrap peer that answered is connected.
 */
export async function createHost(parameters: CreateHostParameters): Promise<GridspotHost> {
  installHalfWindowUpdates();
  const localNetwork = parameters.localNetwork === true;
  const bootstrap = (parameters.bootstrap ?? []).map((a) => multiaddr(a));
  const bootstrapPeers = new Set(
    bootstrap.flatMap((a) =>
      a.getComponents().flatMap((c) => (c.name === "p2p" && c.value ? [c.value] : [])),
    ),
  );
  const host = await createLibp2p({
    privateKey: parameters.privateKey,
    addresses: { listen: parameters.listen },
    connectionMonitor: { abortConnectionOnPingFailure: parameters.abortConnectionOnPingFailure ?? true },
    // libp2p accepts at most 5 inbound connections a second from one IP address: with every peer
    // on 127.0.0.1 that throttles the whole network, so a local network exempts loopback from it.
    ...(localNetwork ? { connectionManager: { allow: LOOPBACK_NETWORKS } } : {}),
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        // Market messages carry their own signature (the EIP-712 envelope, by the sender's Ethereum
        // key, naming its peer id), checked by every topic validator. A second, libp2p-level
        // signature would only cost an Ed25519 signing per publish and a verification per node per
        // message — the largest CPU cost of relaying offers — and tie a message to the peer that
        // first published it, which nothing here needs: a relayed copy of a signed offer is the
        // offer. Without it gossipsub names messages by the SHA-256 of their bytes, so a copy is a
        // duplicate wherever it comes from; peer scores still go by the peer that forwarded it.
        globalSignaturePolicy: "StrictNoSign",
        // Only the market's topics: other topics' subscriptions and messages are dropped unread.
        allowedTopics: [OFFERS_TOPIC, ORDERS_TOPIC],
        maxInboundDataLength: MAX_GOSSIP_RPC_BYTES,
        decodeRpcLimits: {
          maxSubscriptions: 16,
          maxMessages: 256,
          maxIhaveMessageIDs: 5_000,
          maxIwantMessageIDs: 5_000,
          maxControlMessages: 64,
          maxIdontwantMessageIDs: 512,
          maxPeerInfos: 16,
        },
        dataTransform: messageSizeLimit,
        // IDONTWANT saves bandwidth on large messages at the cost of one more control message per
        // mesh peer for each message; market messages are small (at most 16 KiB, typically under
        // 1 KiB), where it costs more than it saves.
        idontwantMinDataSize: MAX_GOSSIP_MESSAGE_BYTES + 1,
        scoreParams: marketScoreParams({ bootstrapPeers, localNetwork }),
        scoreThresholds: MARKET_SCORE_THRESHOLDS,
        doPX: parameters.peerExchange === true,
      }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: parameters.dhtServer === false,
        peerInfoMapper: localNetwork ? passthroughMapper : removePrivateAddressesMapper,
        logPrefix: "gridspot:dht",
      }),
      peers: keepPeers({ bootstrap, minConnections: parameters.minConnections ?? MIN_CONNECTIONS }),
    },
  });
  await host.services.peers.dialBootstrap();
  return host;
}
