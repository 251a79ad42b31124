import type { Connection, Stream } from "@libp2p/interface";
import type { LocalAccount, PublicClient } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { openEnvelope } from "../../marketplace/messages/envelope.ts";
import { jobStart, submitterFrame } from "../../marketplace/messages/job.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES } from "../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../marketplace/p2p/createHost.ts";
import { FrameError, frameChannel } from "../../marketplace/p2p/frames.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { BidEngine } from "../bid/bidEngine.ts";
import type { Capacity } from "../bid/capacity.ts";
import { finishJob, insertJob } from "../store/jobRecords.ts";
import { latestVoucher } from "../store/receiptRecords.ts";
import { checkJobStart } from "./checkJobStart.ts";
import { readChannel } from "./readChannel.ts";
import { type JobOutcome, type RunJobInit, runJob } from "./runJob.ts";

export type JobServiceComponents = {
  host: GridspotHost;
  store: Store;
  account: LocalAccount;
  chainId: number;
  publicClient: PublicClient;
  capacity: Capacity;
  bidEngine: BidEngine;
  logger: Logger;
  /** Called when a job ends (the redeemer redeems, the advertiser re-publishes). */
  onJobEnd: (jobId: string, channelId: bigint, outcome: JobOutcome) => void;
};

/**
 * Serves `/gridspot/job/1.0.0`: takes a submitter's signed JobStart for an agreement this node
 * signed, checks the payment channel on-chain, and runs the job. Any bad frame or failed check is
 * answered with an error frame naming the problem, and the node goes on serving.
 */
export function createJobService(components: JobServiceComponents, init: RunJobInit) {
  const { host, store, account, chainId, capacity, logger } = components;
  const running = new Map<string, Promise<JobOutcome>>();

  async function serve(stream: Stream, connection: Connection): Promise<void> {
    const channel = frameChannel(stream, MAX_JOB_FRAME_BYTES);
    const refuse = async (code: string, message: string) => {
      logger.warn("job start refused", { code, message });
      await channel.write({ type: "error", code, message }).catch(() => {});
      await channel.close();
    };
    let first: Awaited<ReturnType<typeof channel.read<typeof submitterFrame>>>;
    try {
      first = await channel.read(submitterFrame, { signal: AbortSignal.timeout(15_000) });
    } catch (error) {
      return refuse("bad-frame", error instanceof FrameError ? error.message : "no start frame");
    }
    if (first.type !== "start") return refuse("expected-start", `expected a start frame, got ${first.type}`);
    const opened = await openEnvelope(first.start, {
      chainId,
      kind: "JobStart",
      schema: jobStart,
      peerId: connection.remotePeer.toString(),
    });
    if (!opened.ok) return refuse(opened.reason, opened.detail);
    const start = opened.value;
    // Check the signer before taking the agreement: a start forged by someone else must not use up
    // the real submitter's agreement or release its capacity.
    const peeked = components.bidEngine.peekAgreement(start.jobId);
    if (peeked === undefined) return refuse("no-agreement", `no agreement is held for job ${start.jobId}`);
    if (opened.envelope.from !== peeked.agreement.submitter) {
      return refuse("not-submitter", "the start is not signed by the agreement's submitter");
    }
    const held = components.bidEngine.takeAgreement(start.jobId) ?? peeked;
    const { agreement } = held;
    const reservation = capacity.get(start.jobId);
    const release = () => capacity.release(start.jobId);
    if (reservation === undefined) {
      release();
      return refuse("hold-expired", "the capacity hold for this job expired");
    }
    let refusal: { code: string; message: string } | undefined;
    try {
      const state = await readChannel(components.publicClient, agreement.escrow, start.channelId);
      const stored = latestVoucher(store, start.channelId)?.cumulativeAmount ?? 0n;
      refusal = checkJobStart({
        start,
        agreement,
        channel: state,
        provider: account.address,
        signedFloor: stored > state.redeemed ? stored : state.redeemed,
        nowS: Math.floor(Date.now() / 1000),
      });
    } catch (error) {
      refusal = {
        code: "chain-unavailable",
        message: `cannot read the channel: ${(error as Error).message.split("\n")[0]}`,
      };
    }
    if (refusal !== undefined) {
      release();
      return refuse(refusal.code, refusal.message);
    }
    const inserted = insertJob(store, {
      jobId: start.jobId,
      orderId: agreement.orderId,
      submitter: agreement.submitter,
      channelId: start.channelId,
      channelBase: start.channelBase,
      agreement: JSON.stringify({ provider: held.signatures.provider, submitter: held.signatures.submitter }),
      startedAt: Date.now(),
    });
    if (!inserted.ok) {
      release();
      return refuse("channel-busy", `channel ${start.channelId} is in use by job ${inserted.busyWith}`);
    }
    capacity.markRunning(start.jobId);
    const outcome = runJob({ store, account, chainId, peerId: host.peerId.toString(), logger }, init, {
      channel,
      start,
      agreement,
      gpuIndices: reservation.gpuIndices,
    });
    running.set(start.jobId, outcome);
    try {
      const result = await outcome;
      components.onJobEnd(start.jobId, start.channelId, result);
    } catch (error) {
      const reason = `the job could not run: ${(error as Error).message.split("\n")[0]}`;
      logger.error("job failed to run", { jobId: start.jobId, error: (error as Error).message });
      finishJob(store, start.jobId, { status: "failed", exitCode: null, reason, endedAt: Date.now() });
      components.onJobEnd(start.jobId, start.channelId, {
        status: "failed",
        exitCode: null,
        reason,
        jobAmount: 0n,
      });
      await channel
        .write({ type: "error", code: "runtime", message: (error as Error).message.split("\n")[0] })
        .catch(() => {});
      await channel.close();
    } finally {
      running.delete(start.jobId);
      release();
    }
  }

  return {
    async start() {
      await host.handle(JOB_PROTOCOL, (stream, connection) => void serve(stream, connection), {
        maxInboundStreams: 64,
      });
    },
    async stop() {
      await host.unhandle(JOB_PROTOCOL);
    },
    runningJobs(): string[] {
      return [...running.keys()];
    },
  };
}
