import { setTimeout as sleep } from "node:timers/promises";
import { toJson } from "../messages/json.ts";
import {
  WEBHOOK_ATTEMPTS,
  WEBHOOK_BASE_DELAY_MS,
  WEBHOOK_MAX_DELAY_MS,
  WEBHOOK_TIMEOUT_MS,
} from "./constants.ts";

export type PostWebhookParameters = {
  url: string;
  /** Sent as JSON (bigints as decimal strings). */
  body: unknown;
  /** Attempts in all, the first one included. */
  attempts?: number;
  /** The delay before the first retry; it doubles on each further retry, up to `maxDelayMs`. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Bound on each attempt. */
  timeoutMs?: number;
  signal?: AbortSignal;
};

export type PostWebhookReturnType =
  | { ok: true; attempts: number; status: number }
  | { ok: false; attempts: number; error: string };

/**
 * POSTs a JSON body, retrying with bounded exponential backoff (base, 2×base, 4×base… capped)
 * on a network error, a timeout, a 5xx, 408 or 429. Another 4xx is final: the receiver said no and
 * the same body would get the same answer. Never throws: the outcome says what happened.
 */
export async function postWebhook(p: PostWebhookParameters): Promise<PostWebhookReturnType> {
  const attempts = Math.max(1, p.attempts ?? WEBHOOK_ATTEMPTS);
  const base = p.baseDelayMs ?? WEBHOOK_BASE_DELAY_MS;
  const maxDelay = p.maxDelayMs ?? WEBHOOK_MAX_DELAY_MS;
  const timeout = p.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const payload = toJson(p.body);
  let error = "not attempted";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (p.signal?.aborted) return { ok: false, attempts: attempt - 1, error: "aborted" };
    try {
      const signals = [AbortSignal.timeout(timeout), ...(p.signal === undefined ? [] : [p.signal])];
      const response = await fetch(p.url, {
        method: "POST",
        headers: { "content-type": "application/json", "user-agent": "gridspot" },
        body: payload,
        signal: AbortSignal.any(signals),
      });
      await response.body?.cancel();
      if (response.ok) return { ok: true, attempts: attempt, status: response.status };
      error = `HTTP ${response.status}`;
      const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
      if (!retryable) return { ok: false, attempts: attempt, error };
    } catch (e) {
      error = (e as Error).message;
    }
    if (attempt < attempts) {
      const delay = Math.min(maxDelay, base * 2 ** (attempt - 1));
      await sleep(delay, undefined, p.signal === undefined ? {} : { signal: p.signal }).catch(() => {});
    }
  }
  return { ok: false, attempts, error };
}
