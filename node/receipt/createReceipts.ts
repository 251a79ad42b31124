import type { Hex, LocalAccount } from "viem";
import type { Logger } from "../../marketplace/log/createLogger.ts";
import type { Agreement } from "../../marketplace/messages/agreement.ts";
import type { Envelope } from "../../marketplace/messages/envelope.ts";
import type { Rate } from "../../marketplace/messages/primitives.ts";
import type { Store } from "../../marketplace/store/openStore.ts";
import { WATCHDOG_INTERVAL_MS } from "./constants.ts";
import { type BilledSoFar, cutNote } from "./cutNote.ts";
import { ZERO_HASH } from "./eventsHash.ts";
import { spotRatesNow } from "./spotRatesNow.ts";
import { takeVoucher } from "./takeVoucher.ts";

export type ReceiptsComponents = {
  store: Store;
  account: LocalAccount;
  chainId: number;
  peerId: string;
  logger: Logger;
};

export type ReceiptsInit = {
  agreement: Agreement;
  channelId: bigint;
  channelBase: bigint;
  /** When the job's first process started. */
  startedAt: number;
  /** The node's current rates for a spot agreement (its pricing engine); absent: the agreed ones. */
  spotRates?: (() => Rate[]) | undefined;
};

/** What the receipt stage does to the running job. */
export type ReceiptsJob = {
  /** Sends a frame to the submitter (never throws: a lost stream is the caller's to note). */
  send(frame: unknown): Promise<void>;
  /** Stops the job's processes and its billed time (no voucher, or a refused note). */
  suspend(reason: string): Promise<void>;
  resume(reason: string): Promise<void>;
  /**
   * Ends the job: still no voucher twice the grace period after the note, or (with the agreement's
   * `maxSuspendedS`) suspended for want of vouchers longer than that.
   */
  kill(reason: string): void;
};

/**
 * A job's receipt stage (DESIGN §5): a debit note every receipt interval while the job runs, the
 * payer's voucher for each taken and stored before anything acts on it, the watchdog that suspends
 * the job when a note goes unanswered for the grace period (and kills it after twice that), the
 * resume when the payer catches up, and the final note. Each side's risk stays within one interval
 * plus the grace period: the watchdog looks every {@link WATCHDOG_INTERVAL_MS}, so it acts at the
 * grace period, not up to an interval after it.
 *
 * An agreement with `maxSuspendedS` is for a payer that may be away a while (its agent restarting,
 * or asleep): a job suspended for want of vouchers then waits that long, suspended and unbilled,
 * for the payer to attach again and answer the notes it missed ({@link unanswered}), and is killed
 * only after it. A refused note is an answer: the job then ends as it would without the wait.
 */
export function createReceipts(components: ReceiptsComponents, init: ReceiptsInit, job: ReceiptsJob) {
  const { agreement, channelBase } = init;
  const logger = components.logger;
  const agreedRates = agreement.rates.map(({ gpuClass: _class, ...rate }) => rate);
  const intervalMs = agreement.receiptIntervalMs;
  const graceMs = agreement.graceIntervals * intervalMs;
  const maxSuspendedMs = agreement.maxSuspendedS === undefined ? undefined : agreement.maxSuspendedS * 1000;

  let billed: BilledSoFar = { seq: 0, eventsHash: ZERO_HASH, previous: undefined };
  let jobAmount = 0n;
  /** When each note's usage was cut (the grace clock starts there) and the cumulative it asked. */
  const sentAt = new Map<number, number>();
  const noteCumulative = new Map<number, bigint>();
  /** Each note's signed envelope until it is answered: a payer that attaches again gets them anew. */
  const noteEnvelopes = new Map<number, Envelope>();
  let answeredSeq = -1;
  let finalSeq: number | undefined;
  const finalVoucher = Promise.withResolvers<void>();
  let budgetPaid: bigint | undefined;
  let refusedReason: string | undefined;
  let suspended = false;
  /** When the job was suspended (the clock of `maxSuspendedS`). */
  let suspendedAt: number | undefined;
  let watchdogKill = false;
  /** Why the job was killed, when it was for being suspended past `maxSuspendedS`. */
  let suspendedTimeout: string | undefined;
  let tick: NodeJS.Timeout | undefined;
  let watchdog: NodeJS.Timeout | undefined;

  // Notes are cut one at a time: a receipt tick and the final note must not bill the same events.
  let noteQueue: Promise<void> = Promise.resolve();
  const issueNote = (final: boolean): Promise<void> => {
    noteQueue = noteQueue.then(async () => {
      const cutAt = Date.now();
      const rates =
        agreement.pricing === "spot"
          ? spotRatesNow(agreement, init.spotRates?.() ?? agreedRates)
          : agreedRates;
      const cut = await cutNote(components, {
        agreement,
        channelId: init.channelId,
        channelBase,
        startedAt: init.startedAt,
        billed,
        rates,
        final,
      });
      billed = cut.billed;
      jobAmount = cut.note.jobAmount;
      sentAt.set(cut.note.seq, cutAt);
      noteCumulative.set(cut.note.seq, cut.note.channelCumulative);
      noteEnvelopes.set(cut.note.seq, cut.envelope);
      if (final) finalSeq = cut.note.seq;
      await job.send({ type: "note", note: cut.envelope });
    });
    return noteQueue;
  };

  const suspend = async (reason: string) => {
    if (suspended) return;
    suspended = true;
    suspendedAt = Date.now();
    await job.suspend(reason);
  };

  /** The job's processes are gone: nothing to suspend, resume or kill any more. */
  let halted = false;
  const halt = () => {
    halted = true;
    clearInterval(tick);
    clearInterval(watchdog);
  };

  return {
    /** Starts the receipt interval and the voucher watchdog. */
    start() {
      tick = setInterval(() => {
        if (suspended) return;
        issueNote(false).catch((error: Error) =>
          logger.error("receipt tick failed", { error: error.message }),
        );
      }, intervalMs);
      watchdog = setInterval(() => {
        if (watchdogKill) return;
        const now = Date.now();
        // Suspended for want of vouchers under an agreement that waits for the payer: killed only
        // once the wait is over (a refused note is an answer: the rule below ends that job).
        if (maxSuspendedMs !== undefined && suspendedAt !== undefined && refusedReason === undefined) {
          const away = now - suspendedAt;
          if (away > maxSuspendedMs) {
            watchdogKill = true;
            suspendedTimeout = `suspended for want of vouchers for ${away} ms: the payer did not come back within ${agreement.maxSuspendedS} s`;
            job.kill(suspendedTimeout);
          }
          return;
        }
        const oldestUnanswered = sentAt.get(answeredSeq + 1);
        const waited = oldestUnanswered === undefined ? 0 : now - oldestUnanswered;
        if (waited >= 2 * graceMs) {
          watchdogKill = true;
          job.kill(`no voucher for ${waited} ms`);
        } else if (waited >= graceMs && !suspended) {
          void suspend(`no voucher within the grace period (${waited} ms)`).catch((error: Error) =>
            logger.error("suspend failed", { error: error.message }),
          );
        }
      }, WATCHDOG_INTERVAL_MS);
    },

    /** The payer's voucher for note `noteSeq`. */
    async take(noteSeq: number, voucher: { channelId: bigint; cumulativeAmount: bigint; signature: Hex }) {
      const taken = await takeVoucher(components.store, {
        chainId: components.chainId,
        agreement,
        channelId: init.channelId,
        noteSeq,
        voucher,
        noteCumulative: noteCumulative.get(noteSeq),
        paidSoFar: noteCumulative.get(answeredSeq) ?? channelBase,
      });
      if (taken.kind === "refused") {
        logger.warn("voucher not taken", { noteSeq, amount: voucher.cumulativeAmount, why: taken.why });
        return;
      }
      if (taken.kind === "partial") {
        budgetPaid = voucher.cumulativeAmount;
        logger.info("the payer's budget is reached: paid part of a note", { noteSeq, amount: budgetPaid });
        return;
      }
      if (noteSeq > answeredSeq) answeredSeq = noteSeq;
      for (const seq of noteEnvelopes.keys()) if (seq <= answeredSeq) noteEnvelopes.delete(seq);
      if (suspended && !halted && answeredSeq === billed.seq - 1 && refusedReason === undefined) {
        suspended = false;
        suspendedAt = undefined;
        await job.resume("voucher received");
      }
      if (finalSeq !== undefined && answeredSeq >= finalSeq) finalVoucher.resolve();
    },

    /** The payer refused note `noteSeq`: no voucher will come, the job is suspended at once. */
    async refused(noteSeq: number, reason: string) {
      refusedReason = `the submitter refused note ${noteSeq}: ${reason}`;
      await suspend(refusedReason);
    },

    /**
     * The submitter's stream is gone: no voucher will come on it. Without `maxSuspendedS` none will
     * come at all (the final note's wait ends); with it, the payer may attach again and answer.
     */
    closed() {
      if (maxSuspendedMs === undefined) finalVoucher.resolve();
    },

    /** The signed notes not answered yet, in seq order: what a payer that attaches again is sent. */
    unanswered(): Envelope[] {
      return [...noteEnvelopes.entries()]
        .filter(([seq]) => seq > answeredSeq)
        .sort(([a], [b]) => a - b)
        .map(([, envelope]) => envelope);
    },

    /**
     * The job's processes have exited: no more interval notes, and no watchdog (nothing is left to
     * suspend or kill while the job waits for its payer to come back for the final note).
     */
    halt,

    /** The job has ended: stops the interval and watchdog, cuts the final note. */
    async finish(): Promise<void> {
      halt();
      await issueNote(true);
    },

    /** Waits up to `waitMs` for the final note's voucher. */
    async waitForFinalVoucher(waitMs: number): Promise<void> {
      const timer = setTimeout(() => finalVoucher.resolve(), waitMs);
      await finalVoucher.promise;
      clearTimeout(timer);
    },

    /** The last note's job amount. */
    get jobAmount() {
      return jobAmount;
    },
    /** The payer paid for all the work: the final note's voucher is stored, or its budget was paid. */
    get paidInFull() {
      return (finalSeq !== undefined && answeredSeq >= finalSeq) || budgetPaid !== undefined;
    },
    /** The watchdog ended the job: the payer stopped paying. */
    get unpaidKill() {
      return watchdogKill;
    },
    /** Why the watchdog ended the job, when it waited `maxSuspendedS` for the payer in vain. */
    get suspendedTimeout() {
      return suspendedTimeout;
    },
    get refusedReason() {
      return refusedReason;
    },
  };
}

export type Receipts = ReturnType<typeof createReceipts>;
