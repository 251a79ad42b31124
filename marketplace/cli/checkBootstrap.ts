import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { BaseError } from "../errors/base.ts";
import type { GridspotHost } from "../p2p/createHost.ts";

/**
 * The bootstrap addresses the host could not connect to (`createHost` resolves once every one that
 * answered is connected). When none answered, an error that names them: an empty market would
 * otherwise look like a market without offers.
 */
export function checkBootstrap(host: GridspotHost, bootstrap: readonly string[]): string[] {
  const unreached = bootstrap.filter((address) => {
    const id = multiaddr(address)
      .getComponents()
      .find((c) => c.name === "p2p")?.value;
    return id === undefined || host.getConnections(peerIdFromString(id)).length === 0;
  });
  if (bootstrap.length > 0 && unreached.length === bootstrap.length)
    throw new BaseError(
      `Cannot reach the bootstrap peer${unreached.length > 1 ? "s" : ""} ${unreached.join(", ")}.`,
      {
        metaMessages: [
          "Check that the node runs and that its address (from `provider start`) is reachable from here;",
          "for nodes on this host or a LAN, add --local-network.",
        ],
      },
    );
  return unreached;
}
