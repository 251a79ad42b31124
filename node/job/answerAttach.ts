import type { Address } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import { type Envelope, openEnvelope } from "../../marketplace/messages/envelope.ts";
import { JOB_END_REASONS, type JobEndReason, jobAttach } from "../../marketplace/messages/job.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { getJob, type JobRecord } from "../store/jobRecords.ts";
import type { AttachJob } from "./runJob.ts";

export type AnswerAttachComponents = { store: Store; chainId: number; logger: Logger };

/** A job running on this node, as an attach needs it. */
export type AttachableJob = {
  /** The agreement's submitter: the only one who may attach. */
  submitter: Address;
  /** How the job takes a new stream; undefined while it is still starting. */
  attach?: AttachJob | undefined;
};

export type AnswerAttachParameters = {
  /** The stream the `attach` frame came on: the job's from now on, if the attach is taken. */
  channel: FrameChannel;
  /** The `JobAttach` envelope of the frame. */
  attach: Envelope;
  /** The libp2p peer the stream came from: it must be the one the submitter signed for. */
  remotePeer: string;
  running: (jobId: string) => AttachableJob | undefined;
};

/**
 * A payer coming back to its job (`attach` as the first frame): its signed `JobAttach` is opened,
 * and a running job signed for by its submitter takes the stream over; a job that already ended is
 * answered with its `end` frame, from its record. Anything else gets an `error` frame naming the
 * problem (`unknown-job`, `not-submitter`, or the envelope's own), and leaves the job untouched.
 */
export async function answerAttach(components: AnswerAttachComponents, p: AnswerAttachParameters) {
  const { store, logger } = components;
  const { channel } = p;
  const refuse = async (code: string, message: string) => {
    logger.warn("attach refused", { code, message });
    await channel.write({ type: "error", code, message }).catch(() => {});
    await channel.close();
  };
  const opened = await openEnvelope(p.attach, {
    chainId: components.chainId,
    kind: "JobAttach",
    schema: jobAttach,
    peerId: p.remotePeer,
  });
  if (!opened.ok) return refuse(opened.reason, opened.detail);
  const request = opened.value;
  const signer = opened.envelope.from;

  const job = p.running(request.jobId);
  if (job !== undefined) {
    if (signer !== job.submitter) {
      return refuse("not-submitter", "the attach is not signed by the job's submitter");
    }
    if (job.attach === undefined) {
      return refuse("job-starting", "the job is still starting: attach again in a moment");
    }
    if (await job.attach(channel, request)) return;
    // It ended while the attach was on its way: its record answers, below.
  }

  const record = getJob(store, request.jobId);
  // A record still `running` with no job behind it was left by a node that stopped mid-job.
  if (record === undefined || record.status === "running") {
    return refuse("unknown-job", `no job ${request.jobId} runs or ran on this node`);
  }
  if (signer !== record.submitter) {
    return refuse("not-submitter", "the attach is not signed by the job's submitter");
  }
  logger.info("attach to an ended job: answered with its end", { jobId: request.jobId });
  await channel.write(endFrameOf(record)).catch(() => {});
  await channel.close();
}

/** The `end` frame of a finished job, as its record keeps it. */
function endFrameOf(record: JobRecord) {
  const reasonCode = (JOB_END_REASONS as readonly string[]).includes(record.reasonCode ?? "")
    ? (record.reasonCode as JobEndReason)
    : undefined;
  return {
    type: "end",
    jobId: record.jobId,
    status: record.status,
    exitCode: record.exitCode,
    reason: record.reason.slice(0, 1024),
    ...(reasonCode === undefined ? {} : { reasonCode }),
    startedAt: record.startedAt,
    ...(record.endedAt === null ? {} : { endedAt: record.endedAt }),
    jobAmount: record.jobAmount,
  };
}
