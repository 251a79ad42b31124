// A payer driven by hand, on real parts: its own libp2p host (the product's createHost), its own
// wallet on the test chain, the market's messages signed with its key. It publishes an order, takes
// the provider's bid, countersigns the agreement, opens a channel, and then speaks the job protocol
// frame by frame: start, pay (or not), drop its stream, attach again. It never uses the submitter's
// client code, so a test sees exactly what the provider sends and when.
import { randomBytes } from "node:crypto";
import { generateKeyPair } from "@libp2p/crypto/keys";
import type { Stream } from "@libp2p/interface";
import { peerIdFromString } from "@libp2p/peer-id";
import { type Hex, parseEventLogs } from "viem";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";
import { waitForSuccess } from "../../../marketplace/chain/actions/waitForSuccess.ts";
import { computeEscrowAbi, computeTokenAbi } from "../../../marketplace/chain/artifacts.generated.ts";
import { createChainClients } from "../../../marketplace/chain/clients.ts";
import { signVoucher } from "../../../marketplace/chain/voucher.ts";
import { type Agreement, agreement as agreementSchema } from "../../../marketplace/messages/agreement.ts";
import { type Envelope, envelope, signEnvelope } from "../../../marketplace/messages/envelope.ts";
import { type JobSpec, type ProviderFrame, providerFrame } from "../../../marketplace/messages/job.ts";
import type { JobOrder } from "../../../marketplace/messages/order.ts";
import { type DebitNote, debitNote } from "../../../marketplace/messages/receipt.ts";
import {
  BID_PROTOCOL,
  JOB_PROTOCOL,
  MAX_BID_FRAME_BYTES,
  MAX_JOB_FRAME_BYTES,
  ORDERS_TOPIC,
} from "../../../marketplace/p2p/constants.ts";
import { createHost, type GridspotHost } from "../../../marketplace/p2p/createHost.ts";
import { type FrameChannel, frameChannel } from "../../../marketplace/p2p/frames.ts";
import { GRID, type Market } from "./market.ts";
import { GPU_CLASS, type TestProvider } from "./nodes.ts";
import { waitFor } from "./waitFor.ts";

const HOUR_MS = 3_600_000n;
export const newId = () => randomBytes(9).toString("base64url");
const nowS = () => Math.floor(Date.now() / 1000);

/** An agreement with its two signatures and the channel that pays it. */
export type Agreed = {
  agreement: Agreement;
  signatures: { provider: Envelope; submitter: Envelope };
  channelId: bigint;
};

/**
 * What the payer holds of one job across its streams, as an agent keeps it on disk: the log bytes
 * received (each frame must start where the held bytes end: a repeat or a hole is recorded), and
 * the notes it paid.
 */
export type JobHeld = {
  agreed: Agreed;
  logs: { stdout: Buffer; stderr: Buffer };
  /** `stream@offset: held N` for every log frame that did not start where the held bytes end. */
  offsetErrors: string[];
  paid: Set<number>;
  notes: Map<number, DebitNote>;
  /** Pay each note as it arrives (a test turns it off to play an absent payer). */
  paying: boolean;
};

/** One job stream of the payer: every provider frame it received, in order. */
export type JobStream = {
  channel: FrameChannel;
  stream: Stream;
  frames: ProviderFrame[];
  /** Resolves with the first frame (from index `from` on) that `match` accepts. */
  next(
    what: string,
    match: (f: ProviderFrame) => boolean,
    o?: { timeoutMs?: number; from?: number },
  ): Promise<ProviderFrame>;
  /** Settles when the provider ends the stream (or it fails). */
  closed: Promise<void>;
  /** Kills the stream as a SIGKILLed agent would leave it. */
  abort(): void;
};

export type HandPayer = {
  host: GridspotHost;
  account: LocalAccount;
  peerId: string;
  agree(o: { maxSuspendedS?: number; maxDurationS?: number }): Promise<Agreed>;
  start(agreed: Agreed, spec: JobSpec): Promise<{ held: JobHeld; stream: JobStream }>;
  /** Opens a new stream with a JobAttach for `jobId` (signed by `signer`, the payer by default). */
  attach(o: {
    jobId: string;
    held?: JobHeld;
    signer?: LocalAccount;
    signedPeerId?: string;
  }): Promise<JobStream>;
  stop(): Promise<void>;
};

export async function createHandPayer(market: Market, provider: TestProvider): Promise<HandPayer> {
  const { key } = await market.fundAccount(10n * GRID);
  const account = privateKeyToAccount(key);
  const chainId = market.chain.chainId;
  const escrow = market.deployment.contracts.computeEscrow;
  const host = await createHost({
    privateKey: await generateKeyPair("Ed25519"),
    listen: ["/ip4/127.0.0.1/tcp/0"],
    bootstrap: [provider.info.multiaddrs[0] ?? ""],
    localNetwork: true,
  });
  const peerId = host.peerId.toString();
  host.services.pubsub.subscribe(ORDERS_TOPIC);
  await waitFor("the provider's orders subscription", () =>
    host.services.pubsub.getSubscribers(ORDERS_TOPIC).some((p) => p.toString() === provider.info.peerId)
      ? true
      : undefined,
  );
  // Bid streams from the provider, by order id.
  const bidStreams = new Map<string, (channel: FrameChannel) => void>();
  await host.handle(BID_PROTOCOL, (stream) => {
    void (async () => {
      const channel = frameChannel(stream, MAX_BID_FRAME_BYTES);
      const bid = await channel.read(envelope, { signal: AbortSignal.timeout(5_000) });
      const orderId = String((JSON.parse(bid.payload) as { orderId?: unknown }).orderId);
      const take = bidStreams.get(orderId);
      if (bid.kind !== "Bid" || take === undefined) return channel.close();
      take(channel);
    })().catch(() => stream.abort(new Error("not a bid for us")));
  });
  const { walletClient, publicClient } = await createChainClients({ rpcUrl: market.rpcUrl, privateKey: key });
  const sign = (kind: Parameters<typeof signEnvelope>[1]["kind"], payload: unknown, signer = account) =>
    signEnvelope(signer, { chainId, kind, peerId, expiresAt: nowS() + 600, payload });

  async function openChannel(amount: bigint): Promise<bigint> {
    const wait = (hash: Hex, what: string) => waitForSuccess(publicClient, { hash, what });
    await wait(
      await walletClient.writeContract({
        address: market.deployment.contracts.computeToken,
        abi: computeTokenAbi,
        functionName: "approve",
        args: [escrow, amount],
      }),
      "approve",
    );
    await wait(
      await walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "deposit",
        args: [amount],
      }),
      "deposit",
    );
    const receipt = await wait(
      await walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "openChannel",
        args: [provider.address, amount, BigInt(nowS() + 7 * 86_400)],
      }),
      "openChannel",
    );
    const opened = parseEventLogs({
      abi: computeEscrowAbi,
      logs: receipt.logs,
      eventName: "ChannelOpened",
    })[0];
    if (opened === undefined) throw new Error("no ChannelOpened event");
    return opened.args.channelId;
  }

  function openJobStream(stream: Stream, held: JobHeld | undefined): JobStream {
    const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
    const frames: ProviderFrame[] = [];
    const listeners = new Set<() => void>();
    const closed = (async () => {
      for (;;) {
        const frame = await channel.read(providerFrame);
        frames.push(frame);
        await onFrame(held, channel, frame);
        for (const l of listeners) l();
      }
    })().catch(() => {
      for (const l of listeners) l();
    });
    let closedYet = false;
    void closed.then(() => {
      closedYet = true;
    });
    return {
      channel,
      stream,
      frames,
      closed,
      abort: () => stream.abort(new Error("the payer's agent was killed")),
      next(what, match, o = {}) {
        return new Promise((resolve, reject) => {
          const check = () => {
            const found = frames.slice(o.from ?? 0).find(match);
            if (found !== undefined) {
              done();
              resolve(found);
            } else if (closedYet) {
              done();
              reject(new Error(`the stream ended before ${what}: ${frames.map((f) => f.type).join(",")}`));
            }
          };
          const timer = setTimeout(() => {
            done();
            reject(new Error(`no ${what} within ${o.timeoutMs ?? 20_000} ms: ${frames.map((f) => f.type)}`));
          }, o.timeoutMs ?? 20_000);
          const done = () => {
            clearTimeout(timer);
            listeners.delete(check);
          };
          listeners.add(check);
          check();
        });
      },
    };
  }

  /** What an agent does with each frame: keeps the logs, pays the notes (while paying). */
  async function onFrame(held: JobHeld | undefined, channel: FrameChannel, frame: ProviderFrame) {
    if (frame.type === "end" || frame.type === "error") {
      // As the submitter's client does: after the last frame, its side of the stream closes.
      await channel.close();
    } else if (held === undefined) {
      // An attach with nothing held: only its answer matters.
    } else if (frame.type === "log") {
      const have = held.logs[frame.stream];
      if (frame.offset !== have.length) {
        held.offsetErrors.push(`${frame.stream}@${frame.offset}: held ${have.length}`);
        return;
      }
      held.logs[frame.stream] = Buffer.concat([have, Buffer.from(frame.data, "base64")]);
    } else if (frame.type === "send-inputs") {
      await channel.write({ type: "inputs-done" });
    } else if (frame.type === "note") {
      const note = debitNote.parse(JSON.parse(frame.note.payload));
      held.notes.set(note.seq, note);
      if (!held.paying) return;
      const voucher = { channelId: note.channelId, cumulativeAmount: note.channelCumulative };
      const signature = await signVoucher(account, { chainId, escrow, voucher });
      await channel.write({
        type: "voucher",
        jobId: note.jobId,
        noteSeq: note.seq,
        voucher: { ...voucher, signature },
      });
      held.paid.add(note.seq);
    }
  }

  const dialJob = () =>
    host.dialProtocol(peerIdFromString(provider.info.peerId), JOB_PROTOCOL, {
      signal: AbortSignal.timeout(10_000),
    });

  return {
    host,
    account,
    peerId,
    async agree(o) {
      const orderId = newId();
      const jobId = newId();
      const order: JobOrder = {
        orderId,
        submitter: account.address,
        peerId,
        addrs: host.getMultiaddrs().map((a) => a.toString()),
        requirements: {
          gpus: 1,
          gpuClass: GPU_CLASS,
          cpuCores: 1,
          memMiB: 512,
          maxDurationS: o.maxDurationS ?? 60,
        },
        maxRates: [
          { meter: "gpu_ms", price: 5n * GRID, per: HOUR_MS },
          { meter: "cpu_core_ms", price: GRID, per: HOUR_MS },
          { meter: "mem_mib_ms", price: GRID, per: 1024n * HOUR_MS },
        ],
        bidWindowMs: 1_000,
        explain: false,
        ...(o.maxSuspendedS === undefined ? {} : { maxSuspendedS: o.maxSuspendedS }),
      };
      const bid = new Promise<FrameChannel>((resolve) => bidStreams.set(orderId, resolve));
      await host.services.pubsub.publish(
        ORDERS_TOPIC,
        new TextEncoder().encode(JSON.stringify(await sign("JobOrder", order))),
      );
      const channel = await Promise.race([
        bid,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no bid within 15 s")), 15_000)),
      ]);
      bidStreams.delete(orderId);
      try {
        await channel.write(await sign("BidAnswer", { type: "accept", orderId, jobId }));
        const reply = await channel.read(envelope, { signal: AbortSignal.timeout(10_000) });
        const agreement = agreementSchema.parse(JSON.parse(reply.payload));
        // Countersign the exact payload the provider signed.
        const countersigned = await signEnvelope(account, {
          chainId,
          kind: "Agreement",
          peerId,
          expiresAt: reply.expiresAt,
          payload: JSON.parse(reply.payload),
        });
        if (countersigned.payload !== reply.payload)
          throw new Error("the agreement is not in canonical form");
        await channel.write(countersigned);
        const channelId = await openChannel(GRID / 10n);
        return { agreement, signatures: { provider: reply, submitter: countersigned }, channelId };
      } finally {
        await channel.close();
      }
    },
    async start(agreed, spec) {
      const held: JobHeld = {
        agreed,
        logs: { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) },
        offsetErrors: [],
        paid: new Set(),
        notes: new Map(),
        paying: true,
      };
      const start = await sign("JobStart", {
        jobId: agreed.agreement.jobId,
        agreement: agreed.agreement,
        channelId: agreed.channelId,
        channelBase: 0n,
        spec,
        inputs: [],
      });
      const stream = openJobStream(await dialJob(), held);
      await stream.channel.write({ type: "start", start, agreement: agreed.signatures });
      return { held, stream };
    },
    async attach(o) {
      const signer = o.signer ?? account;
      const attach = await signEnvelope(signer, {
        chainId,
        kind: "JobAttach",
        peerId: o.signedPeerId ?? peerId,
        expiresAt: nowS() + 600,
        payload: {
          jobId: o.jobId,
          logOffsets: { stdout: o.held?.logs.stdout.length ?? 0, stderr: o.held?.logs.stderr.length ?? 0 },
        },
      });
      const stream = openJobStream(await dialJob(), o.held);
      await stream.channel.write({ type: "attach", attach });
      return stream;
    },
    async stop() {
      await host.stop();
    },
  };
}

/** A job for `node -e`: burns `cpuMs` of CPU time (suspended time does not count), logging as it goes. */
export function tickingScript(cpuMs: number): string {
  return [
    'const fs=require("node:fs");',
    // User and system time: a loop that asks for its CPU time spends much of it in the kernel.
    "const cpu=()=>{const u=process.cpuUsage();return (u.user+u.system)/1000;};",
    "const t0=cpu();let n=0;let next=0;",
    `for(;;){const used=cpu()-t0;if(used>=next){console.log("tick "+n);if(n%5===0)console.error("err "+n);n++;next+=50;}if(used>=${cpuMs})break;}`,
    'fs.writeFileSync("result.txt","ticked "+n);',
    'console.log("done");',
  ].join("");
}
