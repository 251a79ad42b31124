import { StreamState, YamuxStream } from "@chainsafe/libp2p-yamux/stream";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { Uint8ArrayList } from "uint8arraylist";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { installHalfWindowUpdates } from "../../../marketplace/p2p/yamuxWindowUpdates.ts";

// Frame types and flags of the Yamux spec (hashicorp/yamux spec.md).
const DATA = 0;
const WINDOW_UPDATE = 1;
const WINDOW = 256 * 1024;

type Header = { type: number; flag: number; streamID: number; length: number };

/** A stream as a muxer makes it, with the frames it sends collected. */
function stream(state: StreamState) {
  const sent: Header[] = [];
  const s = new YamuxStream({
    id: "1",
    streamId: 1,
    direction: "inbound",
    state,
    log: Object.assign(() => {}, {
      enabled: false,
      trace: () => {},
      error: () => {},
      newScope: () => {},
    }) as never,
    sendFrame: (header: Header) => {
      sent.push(header);
      return true;
    },
    getRTT: () => -1,
  } as never);
  const receive = (bytes: number) =>
    s.handleData({
      header: { type: DATA, flag: 0, streamID: 1, length: bytes },
      data: new Uint8ArrayList(new Uint8Array(bytes)),
    } as never);
  return { s, sent, receive, updates: () => sent.filter((h) => h.type === WINDOW_UPDATE) };
}

describe("installHalfWindowUpdates", () => {
  installHalfWindowUpdates();

  it("credits the sender once half the window is consumed, not after every frame", () => {
    const { receive, updates } = stream(StreamState.Established);
    // 127 frames of 1 KiB: under half of the 256 KiB window, no update yet.
    for (let i = 0; i < 127; i++) receive(1024);
    expect(updates()).toEqual([]);
    receive(1024);
    // Half consumed: one update that restores the whole window.
    expect(updates()).toEqual([{ type: WINDOW_UPDATE, flag: 0, streamID: 1, length: 128 * 1024 }]);
    for (let i = 0; i < 1000; i++) receive(1024);
    // 1,128 KiB in 1 KiB frames: 8 updates of 128 KiB each, not 1,128.
    expect(updates()).toHaveLength(8);
    expect(updates().reduce((sum, h) => sum + h.length, 0)).toBe(1024 * 1024);
  });

  it("still acknowledges a new stream at once, and leaves a paused stream's window alone", () => {
    const opening = stream(StreamState.SYNReceived);
    opening.receive(10);
    // The ACK flag goes out with the first update, whatever was consumed.
    expect(opening.updates()).toEqual([{ type: WINDOW_UPDATE, flag: 2, streamID: 1, length: 10 }]);
    const paused = stream(StreamState.Established);
    paused.s.sendPause();
    for (let i = 0; i < 200; i++) paused.receive(1024);
    expect(paused.updates()).toEqual([]);
    paused.s.sendResume();
    expect(paused.updates()).toEqual([{ type: WINDOW_UPDATE, flag: 0, streamID: 1, length: 200 * 1024 }]);
  });

  describe("between two hosts", () => {
    let a: GridspotHost;
    let b: GridspotHost;
    beforeAll(async () => {
      b = await createHost({
        privateKey: await generateKeyPair("Ed25519"),
        listen: ["/ip4/127.0.0.1/tcp/0"],
      });
      a = await createHost({
        privateKey: await generateKeyPair("Ed25519"),
        listen: ["/ip4/127.0.0.1/tcp/0"],
        bootstrap: b.getMultiaddrs().map((m) => m.toString()),
      });
    });
    afterAll(async () => {
      await a?.stop();
      await b?.stop();
    });

    it("moves 4 MiB in small and large writes through a stream, every byte in order", async () => {
      const received: Uint8Array[] = [];
      await b.handle("/gridspot-test/bulk/1", async (incoming) => {
        for await (const chunk of incoming) received.push(chunk.subarray());
      });
      const outgoing = await a.dialProtocol(b.peerId, "/gridspot-test/bulk/1");
      const total = 4 * 1024 * 1024;
      const data = Uint8Array.from({ length: total }, (_, i) => (i * 7 + (i >> 10)) & 0xff);
      // Small writes (gossip-sized) first, then writes larger than the whole window.
      const small = 300 * 1024;
      for (let at = 0; at < small; at += 1000) outgoing.send(data.subarray(at, Math.min(at + 1000, small)));
      for (let at = small; at < total; at += 3 * WINDOW) {
        if (!outgoing.send(data.subarray(at, Math.min(at + 3 * WINDOW, total)))) {
          await new Promise((resolve) => outgoing.addEventListener("drain", resolve, { once: true }));
        }
      }
      await outgoing.close();
      const deadline = Date.now() + 20_000;
      while (received.reduce((n, c) => n + c.byteLength, 0) < total && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const all = new Uint8Array(received.reduce((n, c) => n + c.byteLength, 0));
      let offset = 0;
      for (const chunk of received) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      expect(all.byteLength).toBe(total);
      expect(Buffer.compare(all, data)).toBe(0);
    });
  });
});
