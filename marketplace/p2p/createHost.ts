import { noise } from "@chainsafe/libp2p-noise";
import { yamux } from "@chainsafe/libp2p-yamux";
import { type GossipSub, gossipsub } from "@libp2p/gossipsub";
import { identify } from "@libp2p/identify";
import type { PrivateKey } from "@libp2p/interface";
import { ping } from "@libp2p/ping";
import { tcp } from "@libp2p/tcp";
import { multiaddr } from "@multiformats/multiaddr";
import { createLibp2p, type Libp2p } from "libp2p";
import { MAX_GOSSIP_MESSAGE_BYTES } from "./constants.ts";

export type GridspotHost = Libp2p<{
  pubsub: GossipSub;
  identify: ReturnType<ReturnType<typeof identify>>;
  ping: ReturnType<ReturnType<typeof ping>>;
}>;

export type CreateHostParameters = {
  privateKey: PrivateKey;
  /** Multiaddrs to listen on, e.g. `/ip4/127.0.0.1/tcp/0`. */
  listen: string[];
  /** Multiaddrs (with /p2p/<id>) to dial at start. */
  bootstrap?: string[];
  /**
   * Turn off gossipsub's IP-colocation penalty. Only for tests and local demos, where every peer is
   * on 127.0.0.1 and the default penalty would break the mesh; production keeps the default.
   */
  localNetwork?: boolean;
};

/** A libp2p host with TCP, Noise, Yamux, identify, ping and gossipsub, as gridspot nodes use it. */
export async function createHost(parameters: CreateHostParameters): Promise<GridspotHost> {
  const host = await createLibp2p({
    privateKey: parameters.privateKey,
    addresses: { listen: parameters.listen },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        globalSignaturePolicy: "StrictSign",
        maxInboundDataLength: MAX_GOSSIP_MESSAGE_BYTES * 2,
        ...(parameters.localNetwork === true
          ? { scoreParams: { IPColocationFactorWeight: 0 }, scoreThresholds: { graylistThreshold: -1000 } }
          : {}),
      }),
    },
  });
  for (const addr of parameters.bootstrap ?? []) {
    await host.dial(multiaddr(addr), { signal: AbortSignal.timeout(5_000) }).catch((error: Error) => {
      host.logger.forComponent("gridspot:p2p").error("bootstrap dial %s failed: %s", addr, error.message);
    });
  }
  return host;
}
