import { setTimeout as sleep } from "node:timers/promises";
import type { Submitter } from "../client/createSubmitter.ts";
import { recordJobEnd, recordJobRefused } from "../client/recordJobEnd.ts";
import {
  type JobEvents,
  JobRefusedError,
  type JobResult,
  type RunJobClientParameters,
} from "../client/runJobClient.ts";
import { type JobSession, runJobSession } from "../client/runJobSession.ts";
import type { Logger } from "../log/createLogger.ts";
import { attachState } from "./attachState.ts";

/** How often the agent attaches again to a job whose provider it lost before calling the job lost. */
export const ATTACH_RETRIES = 6;
/** The first wait before attaching again; it doubles each time (1, 2, 4 … 32 s: about a minute). */
const RETRY_BASE_MS = 1_000;

export type SupervisedJob = {
  /** Settles when the job has ended here, or the agent stops (the job then stays `running`). */
  done: Promise<void>;
  /** Cancels the job on its provider (the provider stops it and sends the final note). */
  cancel(reason: string): void;
};

/**
 * The payer agent running one job to its end: one session with the provider after another. A lost
 * provider (the network, the provider's restart) is attached to again with backoff, then the job is
 * `lost`. When the agent stops (`stopping`), the job is left as it is, `running` in the store: the
 * provider suspends it after the grace period, and the next agent attaches again.
 */
export function superviseJob(
  submitter: Submitter,
  session: JobSession,
  o: {
    stopping: AbortSignal;
    logger: Logger;
    redeemWaitMs: number;
    /** This side's own count for each note (an endpoint's gateway); see `runJobClient`. */
    observe?: RunJobClientParameters["observe"];
    /** Told of each note and what this side made of it (`accepted`, or why it was refused). */
    onNote?: JobEvents["onNote"];
    /** Told once the job's end is in the store (before the wait for the provider's redeem). */
    onEnded?: (() => void) | undefined;
  },
): SupervisedJob {
  const cancel = new AbortController();
  const { jobId, channelId } = session;
  const logger = o.logger.child(jobId);
  const done = (async () => {
    let attach = session.attach;
    for (let attempt = 0; ; attempt++) {
      let result: JobResult;
      try {
        result = await runJobSession(
          submitter,
          { ...session, ...(attach === undefined ? {} : { attach }) },
          {
            signal: cancel.signal,
            detach: o.stopping,
            observe: o.observe,
            events: {
              ...(o.onNote === undefined ? {} : { onNote: o.onNote }),
              onStatus: (status, reason) => logger.info(`job ${status}`, { reason }),
              onAttached: (suspended, gap) => logger.info("attached", { suspended, ...gap }),
            },
          },
        );
      } catch (error) {
        if (o.stopping.aborted) return;
        if (attach !== undefined && error instanceof JobRefusedError) {
          // The provider no longer knows the job (it restarted, or ended it long ago and forgot).
          await recordJobEnd(submitter, {
            jobId,
            channelId,
            result: {
              ...lostResult(attach),
              reason: `the provider no longer runs the job: ${error.shortMessage}`,
            },
            redeemWaitMs: o.redeemWaitMs,
          });
        } else recordJobRefused(submitter, { jobId, channelId, error: error as Error });
        logger.warn("job refused", { error: (error as Error).message.split("\n")[0] });
        return;
      }
      if (o.stopping.aborted) return;
      if (result.status !== "lost" || cancel.signal.aborted || attempt >= ATTACH_RETRIES) {
        logger.info("job ended", { status: result.status, reason: result.reason });
        // recordJobEnd writes the end before its first await (the redeem wait): told right after.
        const recorded = recordJobEnd(submitter, { jobId, channelId, result, redeemWaitMs: o.redeemWaitMs });
        o.onEnded?.();
        await recorded;
        return;
      }
      const waitMs = RETRY_BASE_MS * 2 ** attempt;
      logger.warn("lost the provider; attaching again", { reason: result.reason, inMs: waitMs });
      await sleep(waitMs, undefined, { signal: o.stopping }).catch(() => {});
      if (o.stopping.aborted) return;
      attach = attachState(submitter.store, jobId);
    }
  })();
  return { done, cancel: (reason) => cancel.abort(reason) };
}

/** A job given up on: what was signed stays signed (the provider redeems it). */
function lostResult(attach: NonNullable<JobSession["attach"]>): JobResult {
  return {
    status: "lost",
    exitCode: null,
    reason: "",
    amount: attach.previous?.jobAmount ?? 0n,
    usage: {},
    notes: attach.notes,
    vouchers: attach.vouchers,
    outputs: [],
    dropped: [],
  };
}
