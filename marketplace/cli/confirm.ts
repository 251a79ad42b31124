import type { Hash, PublicClient, TransactionReceipt } from "viem";
import { waitForSuccess } from "../chain/actions/waitForSuccess.ts";
import { formatDuration } from "./format.ts";
import { createProgress } from "./progress.ts";

/** Quiet for a wait shorter than this (a local chain mines at once). */
const SHOW_AFTER_MS = 1_000;
/** Without a terminal, a line this often. */
const PLAIN_EVERY_MS = 15_000;

/**
 * `waitForSuccess` with progress on stderr when the chain takes its time: a live line on a
 * terminal (every second), otherwise a line after a second and then every 15 s.
 */
export async function confirm(
  client: Pick<PublicClient, "waitForTransactionReceipt">,
  p: { hash: Hash; what: string },
): Promise<TransactionReceipt> {
  const progress = createProgress(process.stderr);
  const started = Date.now();
  let shown = false;
  let last = 0;
  const timer = setInterval(() => {
    const now = Date.now();
    if (now - started < SHOW_AFTER_MS) return;
    if (!progress.live && shown && now - last < PLAIN_EVERY_MS) return;
    shown = true;
    last = now;
    progress.update(`waiting for ${p.what} (tx ${p.hash}) to be mined: ${formatDuration(now - started)}`);
  }, 250);
  try {
    const receipt = await waitForSuccess(client, p);
    if (shown)
      progress.done(
        `${p.what} mined in block ${receipt.blockNumber} after ${formatDuration(Date.now() - started)}`,
      );
    return receipt;
  } finally {
    clearInterval(timer);
    progress.clear();
  }
}
