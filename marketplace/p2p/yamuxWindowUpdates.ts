import { StreamState, YamuxStream } from "@chainsafe/libp2p-yamux/stream";

/** The receive-window fields the patch reads (private in the library's types, plain at run time). */
type ReceiveWindow = { state: StreamState; recvWindow: number; recvWindowCapacity: number };

const sendEveryUpdate = YamuxStream.prototype.sendWindowUpdate;
let installed = false;

/**
 * Makes Yamux streams credit their sender once at least half of the receive window has been
 * consumed, as Go's (hashicorp/yamux) and Rust's (rust-yamux) implementations do, instead of after
 * every data frame as @chainsafe/libp2p-yamux 8 does.
 *
 * Why: every gossip message a node receives is one data frame, so the library answered each with a
 * window-update frame of its own — one more Noise encryption, socket write, decryption and frame
 * parse per message per hop, about a fifth of a relaying node's CPU in `npm run bench:market`. The
 * sender starts with a 256 KiB window and gets more credit while it still holds at least half of
 * it, so it is not slowed; a stream whose reader is paused, or that still has to send its SYN/ACK
 * flags, goes through the library's own logic unchanged.
 *
 * The library's class is patched once per process (createHost calls this); `YamuxStream` is a
 * public export of the package (`@chainsafe/libp2p-yamux/stream`). The test
 * test/marketplace/p2p/yamuxWindowUpdates.test.ts pins the behaviour, so an upgrade that changes
 * the class shows there.
 */
export function installHalfWindowUpdates(): void {
  if (installed) return;
  installed = true;
  YamuxStream.prototype.sendWindowUpdate = function sendWindowUpdate(this: YamuxStream): void {
    const window = this as unknown as ReceiveWindow;
    const consumed = window.recvWindow - window.recvWindowCapacity;
    if (window.state === StreamState.Established && consumed < window.recvWindow / 2) return;
    sendEveryUpdate.call(this);
  };
}
