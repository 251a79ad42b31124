import {
  type AbortOptions,
  type ComponentLogger,
  type Connection,
  KEEP_ALIVE,
  type Libp2pEvents,
  type Logger,
  type PeerId,
  type PeerInfo,
  type PeerStore,
  type Startable,
  type TypedEventTarget,
} from "@libp2p/interface";
import type { Multiaddr } from "@multiformats/multiaddr";
import {
  BOOTSTRAP_DIAL_TIMEOUT_MS,
  DISCOVERY_DIAL_BACKOFF_MS,
  DISCOVERY_DIAL_TIMEOUT_MS,
  MAX_PARALLEL_DISCOVERY_DIALS,
  MIN_CONNECTIONS,
  PEER_CHECK_INTERVAL_MS,
  RANDOM_WALK_TIMEOUT_MS,
} from "./constants.ts";

const MAX_REMEMBERED_FAILURES = 1_000;

export type KeepPeersInit = {
  /** Multiaddrs with /p2p/<id>: dialled at start, tagged keep-alive so libp2p redials them. */
  bootstrap?: Multiaddr[];
  minConnections?: number;
  intervalMs?: number;
};

/** What the service needs from libp2p (all of them libp2p's own components). */
export type KeepPeersComponents = {
  peerId: PeerId;
  peerStore: PeerStore;
  events: TypedEventTarget<Libp2pEvents>;
  logger: ComponentLogger;
  connectionManager: {
    getConnections(peerId?: PeerId): Connection[];
    openConnection(peer: PeerId | Multiaddr, options?: AbortOptions): Promise<Connection>;
  };
  randomWalk: { walk(options?: AbortOptions): AsyncGenerator<PeerInfo> };
};

export type KeepPeers = Startable & {
  /** Dials the bootstrap peers (each at most BOOTSTRAP_DIAL_TIMEOUT_MS); resolves when all are tried. */
  dialBootstrap(): Promise<void>;
  /** Peers dialled because discovery found them (bootstrap dials excluded). */
  readonly discoveryDials: number;
};

/**
 * Keeps the node connected to at least `minConnections` peers. libp2p only records the peers that
 * discovery finds (DHT lookups, gossipsub peer exchange); this service dials them while the node
 * is below its minimum, and when it knows of nobody to dial, runs a DHT random walk to find some.
 * So a node that knows a single bootstrap peer ends up well connected, and gossip reaches it by
 * several paths.
 */
export function keepPeers(init: KeepPeersInit = {}): (components: KeepPeersComponents) => KeepPeers {
  return (components) => new PeerKeeper(components, init);
}

class PeerKeeper implements KeepPeers {
  readonly #components: KeepPeersComponents;
  readonly #bootstrap: Multiaddr[];
  readonly #min: number;
  readonly #intervalMs: number;
  readonly #log: Logger;
  readonly #dialing = new Set<string>();
  /** Peers whose last dial failed, and when: not retried for DISCOVERY_DIAL_BACKOFF_MS. */
  readonly #failed = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  #walking = false;
  #stopController = new AbortController();
  #discoveryDials = 0;

  constructor(components: KeepPeersComponents, init: KeepPeersInit) {
    this.#components = components;
    this.#bootstrap = init.bootstrap ?? [];
    this.#min = init.minConnections ?? MIN_CONNECTIONS;
    this.#intervalMs = init.intervalMs ?? PEER_CHECK_INTERVAL_MS;
    this.#log = components.logger.forComponent("gridspot:p2p:keep-peers");
  }

  readonly [Symbol.toStringTag] = "gridspot:keep-peers";

  get discoveryDials(): number {
    return this.#discoveryDials;
  }

  start(): void {
    this.#stopController = new AbortController();
    this.#components.events.addEventListener("peer:discovery", this.#onDiscovery);
    this.#timer = setInterval(() => this.#check(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    this.#stopController.abort();
    this.#components.events.removeEventListener("peer:discovery", this.#onDiscovery);
    if (this.#timer !== undefined) clearInterval(this.#timer);
  }

  async dialBootstrap(): Promise<void> {
    await Promise.all(
      this.#bootstrap.map(async (addr) => {
        const peer = addr.getComponents().find((c) => c.name === "p2p")?.value;
        try {
          const connection = await this.#components.connectionManager.openConnection(addr, {
            signal: AbortSignal.any([
              this.#stopController.signal,
              AbortSignal.timeout(BOOTSTRAP_DIAL_TIMEOUT_MS),
            ]),
          });
          // libp2p's reconnect queue redials keep-alive peers whenever they drop.
          await this.#components.peerStore.merge(connection.remotePeer, {
            tags: { [KEEP_ALIVE]: { value: 1 } },
          });
        } catch (error) {
          this.#log.error(
            "bootstrap dial %s (%s) failed: %s",
            addr.toString(),
            peer,
            (error as Error).message,
          );
        }
      }),
    );
  }

  readonly #onDiscovery = (event: CustomEvent<PeerInfo>): void => {
    if (this.#deficit() > 0) this.#dial(event.detail.id);
  };

  /** Connections still missing to reach the minimum, counting dials already under way. */
  #deficit(): number {
    const connected = new Set(
      this.#components.connectionManager.getConnections().map((c) => c.remotePeer.toString()),
    );
    return this.#min - connected.size - this.#dialing.size;
  }

  /** Starts a dial to `peer` unless it is pointless or over the limits; true when one started. */
  #dial(peer: PeerId): boolean {
    const key = peer.toString();
    const failedAt = this.#failed.get(key);
    if (
      peer.equals(this.#components.peerId) ||
      this.#dialing.has(key) ||
      this.#dialing.size >= MAX_PARALLEL_DISCOVERY_DIALS ||
      (failedAt !== undefined && Date.now() - failedAt < DISCOVERY_DIAL_BACKOFF_MS) ||
      this.#components.connectionManager.getConnections(peer).length > 0
    ) {
      return false;
    }
    this.#dialing.add(key);
    this.#discoveryDials += 1;
    const signal = AbortSignal.any([
      this.#stopController.signal,
      AbortSignal.timeout(DISCOVERY_DIAL_TIMEOUT_MS),
    ]);
    this.#components.connectionManager
      .openConnection(peer, { signal })
      .then(
        () => this.#failed.delete(key),
        (error: Error) => {
          this.#log("dial %p failed: %s", peer, error.message);
          if (this.#failed.size >= MAX_REMEMBERED_FAILURES) this.#failed.clear();
          this.#failed.set(key, Date.now());
        },
      )
      .finally(() => this.#dialing.delete(key));
    return true;
  }

  #check(): void {
    const deficit = this.#deficit();
    if (deficit <= 0) return;
    void this.#dialKnownPeers(deficit)
      .then(async (dialled) => {
        if (dialled === 0) await this.#walk(deficit);
        // Alone again (every peer gone): start over from the bootstrap peers.
        if (this.#components.connectionManager.getConnections().length === 0) await this.dialBootstrap();
      })
      .catch((error: Error) => this.#log.error("peer check failed: %s", error.message));
  }

  /** Dials up to `count` peers we hold addresses for and are not connected to; returns how many. */
  async #dialKnownPeers(count: number): Promise<number> {
    const known = await this.#components.peerStore.all({
      filters: [
        (peer) =>
          peer.addresses.length > 0 &&
          !peer.id.equals(this.#components.peerId) &&
          this.#components.connectionManager.getConnections(peer.id).length === 0,
      ],
    });
    let dialled = 0;
    for (const peer of known.sort(() => Math.random() - 0.5)) {
      if (dialled >= count || this.#dialing.size >= MAX_PARALLEL_DISCOVERY_DIALS) break;
      if (this.#dial(peer.id)) dialled += 1;
    }
    return dialled;
  }

  /** A DHT random walk: each peer it turns up is a discovery, dialled by #onDiscovery or here. */
  async #walk(count: number): Promise<void> {
    if (this.#walking) return;
    this.#walking = true;
    const signal = AbortSignal.any([
      this.#stopController.signal,
      AbortSignal.timeout(RANDOM_WALK_TIMEOUT_MS),
    ]);
    let found = 0;
    try {
      for await (const peer of this.#components.randomWalk.walk({ signal })) {
        this.#dial(peer.id);
        found += 1;
        if (found >= count || this.#deficit() <= 0) break;
      }
    } catch (error) {
      if (!signal.aborted) this.#log("random walk failed: %s", (error as Error).message);
    } finally {
      this.#walking = false;
    }
  }
}
