import type { Logger } from "../../marketplace/log/createLogger.ts";
import { type SubmitterFrame, submitterFrame } from "../../marketplace/messages/job.ts";
import type { FrameChannel } from "../../marketplace/p2p/frames.ts";
import { PAYER_CLOSE_WAIT_MS } from "./constants.ts";

export type PayerLinkComponents = { logger: Logger };

export type PayerLinkInit = {
  /** The stream the job was started on. */
  channel: FrameChannel;
  /** How long the payer has to close its side after the last frame (PAYER_CLOSE_WAIT_MS). */
  closeWaitMs?: number;
};

/** What the job does with what the payer sends, and when its stream goes. */
export type PayerLinkHandlers = {
  /** A frame the payer sent on its current stream. */
  onFrame(frame: SubmitterFrame): Promise<void>;
  /** The current stream closed or failed (not replaced by an attach): nothing reaches the payer now. */
  onLost(): void;
};

type Link = { channel: FrameChannel; adopted: boolean; retired: boolean };

/**
 * The job's connection to its payer, whose stream may be replaced: a payer agent that was killed,
 * restarted or asleep attaches again with a new stream, and the job goes on as if nothing happened.
 * Every frame to the payer passes through one queue, written to whichever stream is current when
 * its turn comes; an attach takes its place in that queue, so the frames it replays (built when the
 * attach arrived) come before anything the job sends after it, and nothing is sent twice or lost
 * between the two streams. With no stream, a frame is dropped (`send` says so).
 */
export function createPayerLink(components: PayerLinkComponents, init: PayerLinkInit) {
  const { logger } = components;
  /** The stream most recently handed in: current once adopted, until retired. */
  let newest: Link = { channel: init.channel, adopted: true, retired: false };
  let handlers: PayerLinkHandlers | undefined;
  let writes: Promise<unknown> = Promise.resolve();
  const readers: Promise<void>[] = [];
  const waiters = new Set<(adopted: boolean) => void>();
  let closed = false;

  const current = (): Link | undefined => (newest.adopted && !newest.retired ? newest : undefined);

  /** A stream that failed: the job goes on without a payer until one attaches. */
  const lose = (link: Link, message: string, error: Error, how: "close" | "abort") => {
    if (link.retired) return;
    link.retired = true;
    const fields = { error: error.message.split("\n")[0] };
    // A write that failed is a stream gone bad (warn); a read that ended is the payer leaving (info).
    if (how === "abort") {
      logger.warn(message, fields);
      link.channel.abort(error);
    } else {
      logger.info(message, fields);
      void link.channel.close();
    }
    handlers?.onLost();
  };

  const listen = (link: Link, h: PayerLinkHandlers) => {
    const reader = (async () => {
      for (;;) {
        const frame = await link.channel.read(submitterFrame);
        // A replaced stream may still deliver what was in flight: the new one speaks for the payer.
        if (link.retired) return;
        await h.onFrame(frame);
      }
    })().catch((error: Error) => lose(link, "submitter stream closed", error, "close"));
    readers.push(reader);
  };

  /** Runs `write` on the current stream in its turn; false when there is none or it fails. */
  const enqueue = (write: (channel: FrameChannel) => Promise<void>, what: string): Promise<boolean> => {
    const done = writes.then(async () => {
      const link = current();
      if (link === undefined) return false;
      try {
        await write(link.channel);
        return true;
      } catch (error) {
        lose(link, what, error as Error, "abort");
        return false;
      }
    });
    writes = done;
    return done;
  };
  const send = (frame: unknown) => enqueue((channel) => channel.write(frame), "submitter stream lost");

  return {
    /** Starts reading the payer's frames (once the job can act on them). */
    listen(h: PayerLinkHandlers): void {
      handlers = h;
      const link = current();
      if (link !== undefined) listen(link, h);
    },

    /** Whether a payer's stream is open now. */
    get open(): boolean {
      return current() !== undefined;
    },

    /** Sends one frame in its turn; resolves false when it did not reach a stream (none, or it failed). */
    /** Sends one frame in its turn; resolves false when it reached no stream (none, or it failed). */
    send,

    /** Runs a multi-frame transfer (the outputs) on the current stream in its turn. */
    deliver(transfer: (channel: FrameChannel) => Promise<void>): Promise<boolean> {
      return enqueue(transfer, "outputs not delivered");
    },

    /**
     * A payer's new stream takes over: the old one (if still open) is dropped at once, so a write
     * stuck on it cannot hold the queue; `frames` (what the payer missed) go first on the new one,
     * then whatever the job sends next. False when the job is over (the caller answers otherwise).
     */
    attach(channel: FrameChannel, frames: readonly unknown[]): Promise<boolean> {
      if (closed) return Promise.resolve(false);
      const previous = newest;
      if (!previous.retired) {
        previous.retired = true;
        previous.channel.abort(new Error("the payer attached with a new stream"));
      }
      const link: Link = { channel, adopted: false, retired: false };
      newest = link;
      const done = writes.then(async () => {
        // Another attach came in meanwhile: that one is the payer now.
        if (link.retired) return false;
        link.adopted = true;
        try {
          for (const frame of frames) await channel.write(frame);
        } catch (error) {
          lose(link, "attached stream lost", error as Error, "abort");
          return false;
        }
        if (handlers !== undefined) listen(link, handlers);
        for (const wake of waiters) wake(true);
        return true;
      });
      writes = done;
      return done;
    },

    /** Waits up to `ms` for a payer to attach; true when one did. */
    waitForPayer(ms: number, signal?: AbortSignal): Promise<boolean> {
      if (current() !== undefined) return Promise.resolve(true);
      if (closed || signal?.aborted === true) return Promise.resolve(false);
      return new Promise<boolean>((resolve) => {
        const settle = (adopted: boolean) => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
          waiters.delete(settle);
          resolve(adopted);
        };
        const onAbort = () => settle(false);
        const timer = setTimeout(() => settle(false), ms);
        signal?.addEventListener("abort", onAbort, { once: true });
        waiters.add(settle);
      });
    },

    /**
     * The job is over: `last` (its `end` frame) goes to the current stream, no attach is taken any
     * more (the payer's next one is answered from the job's record), and the stream is closed; reset
     * if the payer has not closed its side within `closeWaitMs`.
     */
    async close(last: unknown): Promise<void> {
      const sent = send(last);
      closed = true;
      for (const wake of waiters) wake(false);
      await sent;
      await writes;
      const link = current();
      if (link === undefined) return;
      link.retired = true;
      let timer: NodeJS.Timeout | undefined;
      const closedInTime = await Promise.race([
        link.channel.close().then(() => Promise.all(readers).then(() => true)),
        new Promise<false>((resolve) => {
          timer = setTimeout(() => resolve(false), init.closeWaitMs ?? PAYER_CLOSE_WAIT_MS);
        }),
      ]);
      clearTimeout(timer);
      if (!closedInTime) {
        logger.info("the payer did not close its side of the stream: reset");
        link.channel.abort(new Error("the payer did not close the job stream after its end"));
      }
      await Promise.all(readers);
    },
  };
}

export type PayerLink = ReturnType<typeof createPayerLink>;
