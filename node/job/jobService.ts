import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { Connection, Stream } from "@libp2p/interface";
import type { Address, LocalAccount, PublicClient } from "viem";
import { readChannel } from "../../marketplace/chain/actions/readChannel.ts";
import { TransferError } from "../../marketplace/errors/transfer.ts";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import { openEnvelope } from "../../marketplace/messages/envelope.ts";
import { jobStart, submitterFrame } from "../../marketplace/messages/job.ts";
import { replicaShare } from "../../marketplace/order/replicaShare.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES } from "../../marketplace/p2p/constants.ts";
import type { GridspotHost } from "../../marketplace/p2p/createHost.ts";
import { FrameError, frameChannel } from "../../marketplace/p2p/frames.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import type { BidEngine } from "../bid/bidEngine.ts";
import type { Capacity } from "../bid/capacity.ts";
import { pickEndpointRuntime } from "../endpoint/pickEndpointRuntime.ts";
import type { EndpointServing } from "../endpoint/startEndpointJob.ts";
import type { JobRuntimes } from "../run/createJobRuntimes.ts";
import { finishJob, insertJob } from "../store/jobRecords.ts";
import { latestVoucher } from "../store/receiptRecords.ts";
import { receiveJobInputs } from "../transfer/receiveJobInputs.ts";
import { answerAttach } from "./answerAttach.ts";
import { checkJobStart } from "./checkJobStart.ts";
import { type AttachJob, type JobOutcome, type RunJobInit, type RunJobParameters, runJob } from "./runJob.ts";

export type JobServiceComponents = {
  host: GridspotHost;
  store: Store;
  account: LocalAccount;
  chainId: number;
  publicClient: PublicClient;
  capacity: Capacity;
  bidEngine: BidEngine;
  logger: Logger;
  /** Where jobs run: the runtime is picked per job from its image. */
  runtimes: JobRuntimes;
  /** The UUID of the GPU with this nvidia-smi index (Docker assigns GPUs by UUID). */
  gpuUuid: (index: number) => string;
  /** How the node serves endpoints (DESIGN §12); without it endpoint starts are refused. */
  endpoints?: EndpointServing | undefined;
  /** Called when a job ends (the redeemer redeems, the advertiser re-publishes). */
  onJobEnd: (jobId: string, channelId: bigint, outcome: JobOutcome) => void;
};

/** A job this node runs: its channel, its stop (the payer closing it), and its payer's re-attach. */
type RunningJob = {
  channelId: bigint;
  stop: AbortController;
  submitter: Address;
  /** Set once the job runs (see runJob's `onRunning`). */
  attach?: AttachJob;
};

/**
 * Serves `/gridspot/job/1.0.0`: takes a submitter's signed JobStart for an agreement this node
 * signed, checks the payment channel on-chain, and runs the job; or takes its signed JobAttach, and
 * hands the new stream to its running job (see `answerAttach`). Any bad frame or failed check is
 * answered with an error frame naming the problem, and the node goes on serving.
 */
export function createJobService(components: JobServiceComponents, init: RunJobInit) {
  const { host, store, account, chainId, capacity, logger } = components;
  const running = new Map<string, RunningJob>();

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
    if (first.type === "attach") {
      return answerAttach(
        { store, chainId, logger },
        {
          channel,
          attach: first.attach,
          remotePeer: connection.remotePeer.toString(),
          running: (id) => running.get(id),
        },
      );
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
      const state = await readChannel(components.publicClient, {
        escrow: agreement.escrow,
        channelId: start.channelId,
      });
      const stored = latestVoucher(store, start.channelId)?.cumulativeAmount ?? 0n;
      refusal = checkJobStart({
        start,
        agreement,
        channel: state,
        provider: account.address,
        signedFloor: stored > state.redeemed ? stored : state.redeemed,
        nowS: Math.floor(Date.now() / 1000),
        maxInputBytes: init.maxInputBytes,
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
    // The runtime for this start's image (or plain command), checked again here: the order's image
    // was checked at the bid, but a start may name another. An endpoint's replicas run as it says.
    const run = pickRun(components, start.spec.image, agreement);
    if (typeof run === "string") {
      release();
      return refuse("image-not-allowed", run.slice(0, 1024));
    }
    // Inputs: asked for only now that the start passed every check, written straight into the work
    // dir and checked against the signed manifest. The hold is marked running meanwhile, so a long
    // upload does not lose it; a bad file refuses the job (`input-<problem>`) and nothing runs.
    capacity.markRunning(start.jobId);
    const workDir = join(init.workRoot, start.jobId);
    try {
      await receiveJobInputs(channel, { jobId: start.jobId, workDir, inputs: start.inputs });
    } catch (error) {
      release();
      await rm(workDir, { recursive: true, force: true }).catch(() => {});
      // The submitter may still be sending: it has a while to read the refusal, then the stream goes.
      setTimeout(() => channel.abort(new Error("the inputs were refused")), 10_000).unref();
      return error instanceof TransferError
        ? refuse(`input-${error.code}`, error.shortMessage.slice(0, 1024))
        : refuse("input-write-failed", `cannot write the inputs: ${(error as Error).message.split("\n")[0]}`);
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
      await rm(workDir, { recursive: true, force: true }).catch(() => {});
      return refuse("channel-busy", `channel ${start.channelId} is in use by job ${inserted.busyWith}`);
    }
    capacity.markRunning(start.jobId);
    const stop = new AbortController();
    const entry: RunningJob = {
      channelId: start.channelId,
      stop,
      submitter: agreement.submitter,
    };
    running.set(start.jobId, entry);
    const outcome = runJob(
      { store, account, chainId, peerId: host.peerId.toString(), logger, endpoints: components.endpoints },
      init,
      {
        channel,
        start,
        agreement,
        gpus: {
          indices: reservation.gpuIndices,
          uuids: reservation.gpuIndices.map((index) => components.gpuUuid(index)),
        },
        run,
        signal: stop.signal,
        onRunning: (job) => {
          entry.attach = job.attach;
        },
      },
    );
    try {
      const result = await outcome;
      components.onJobEnd(start.jobId, start.channelId, result);
    } catch (error) {
      const reason = `the job could not run: ${(error as Error).message.split("\n")[0]}`;
      logger.error("job failed to run", { jobId: start.jobId, error: (error as Error).message });
      finishJob(store, start.jobId, {
        status: "failed",
        exitCode: null,
        reason,
        reasonCode: "runtime",
        endedAt: Date.now(),
      });
      components.onJobEnd(start.jobId, start.channelId, {
        status: "failed",
        exitCode: null,
        reason,
        reasonCode: "runtime",
        jobAmount: 0n,
      });
      await rm(workDir, { recursive: true, force: true }).catch(() => {});
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
    /** The channels running jobs are paid through. */
    runningChannels(): bigint[] {
      return [...new Set([...running.values()].map((r) => r.channelId))];
    },
    /** Stops the jobs paid through `channelId` (the payer asked to close it); how many. */
    stopOnChannel(channelId: bigint, reason: string): number {
      let stopped = 0;
      for (const job of running.values()) {
        if (job.channelId !== channelId || job.stop.signal.aborted) continue;
        job.stop.abort(reason);
        stopped += 1;
      }
      return stopped;
    },
  };
}

/**
 * How a start runs: a job in the runtime for its image (or plain command); an endpoint's replicas
 * as `pickEndpointRuntime` says (Docker for an image, local processes only where the operator
 * allows them). A string says why this node cannot.
 */
function pickRun(
  components: Pick<JobServiceComponents, "runtimes" | "endpoints">,
  image: string | undefined,
  agreement: Agreement,
): RunJobParameters["run"] | string {
  if (agreement.endpoint === undefined) {
    const picked = components.runtimes.pick({ image, gpus: agreement.gpus });
    return typeof picked === "string" ? picked : { kind: "job", ...picked };
  }
  if (components.endpoints === undefined) return "this provider serves no endpoints";
  const share = replicaShare(agreement, agreement.endpoint.maxReplicas);
  if (typeof share === "string") return share;
  const runtime = pickEndpointRuntime(
    components.runtimes,
    { image, gpusPerReplica: share.gpus },
    { processReplicas: components.endpoints.processReplicas },
  );
  return typeof runtime === "string" ? runtime : { kind: "endpoint", runtime };
}
