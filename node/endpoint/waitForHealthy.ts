import { request } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import { HEALTH_POLL_MAX_MS, HEALTH_POLL_MIN_MS, HEALTH_PROBE_TIMEOUT_MS } from "./constants.ts";
import { EndpointError } from "./errors.ts";
import type { ReplicaAddress } from "./types.ts";

export type WaitForHealthyParameters = {
  address: ReplicaAddress;
  /** The path polled with GET. */
  path: string;
  timeoutMs: number;
  signal: AbortSignal;
  /** Settles when the replica is gone: waiting then stops at once. */
  exited: Promise<string>;
};

/**
 * Polls the replica's port until it answers `GET path` with a status below 500: a server that
 * answers is up, and one still loading its model answers 503 (vLLM, TGI). Polls start every 10 ms
 * and slow to every 250 ms, so a fast server is found ready within a few milliseconds.
 * @throws EndpointError `replica-failed` when the replica exits first, or is not healthy in time.
 */
export async function waitForHealthy(p: WaitForHealthyParameters): Promise<void> {
  const deadline = Date.now() + p.timeoutMs;
  let exitedWith: string | undefined;
  void p.exited.then((reason) => {
    exitedWith = reason;
  });
  let interval = HEALTH_POLL_MIN_MS;
  let last = "no answer";
  for (;;) {
    if (exitedWith !== undefined) {
      throw new EndpointError(
        "replica-failed",
        503,
        `it stopped before passing its health check: it ${exitedWith}`,
      );
    }
    p.signal.throwIfAborted();
    const status = await probe(p.address, p.path, p.signal).catch((error: NodeJS.ErrnoException) => {
      last = error.code ?? error.message;
      return undefined;
    });
    if (status !== undefined && status < 500) return;
    if (status !== undefined) last = `status ${status}`;
    if (Date.now() >= deadline) {
      throw new EndpointError(
        "replica-failed",
        503,
        `the replica did not pass its health check (GET ${p.path}) within ${Math.round(p.timeoutMs / 1000)} s (last: ${last})`,
      );
    }
    await sleep(interval, undefined, { signal: p.signal }).catch(() => {});
    interval = Math.min(HEALTH_POLL_MAX_MS, Math.ceil(interval * 1.5));
  }
}

function probe(address: ReplicaAddress, path: string, signal: AbortSignal): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: address.host,
        port: address.port,
        path,
        method: "GET",
        agent: false,
        signal,
        timeout: HEALTH_PROBE_TIMEOUT_MS,
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("timeout", () => req.destroy(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    req.on("error", reject);
    req.end();
  });
}
