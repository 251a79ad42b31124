import { formatUnits } from "viem";
import type { Store } from "../store/openStore.ts";
import { type PostWebhookParameters, postWebhook } from "./postWebhook.ts";
import { recordAlert } from "./submitterStore.ts";

/** The JSON body POSTed to the webhook (amounts as base-unit strings on the wire). */
export type BudgetAlert = {
  type: "gridspot.budget.threshold";
  jobId: string;
  provider: string;
  channelId: bigint;
  /** The percentage of the budget that was reached. */
  threshold: number;
  /** The job's amount that reached it: signed in a voucher, or asked for by a refused note. */
  amount: bigint;
  budget: bigint;
  /** False when the amount came from a note refused for the budget (no voucher was signed for it). */
  signed: boolean;
  /** ISO 8601, UTC. */
  at: string;
};

export type BudgetAlertsComponents = {
  store: Store;
  /** One line per alert and per failed delivery (the CLI writes them to stderr). */
  notify?: (message: string) => void;
};

export type BudgetAlertsInit = {
  /** Percentages of the budget, 1…100. */
  thresholds: readonly number[];
  webhook: string | null;
  /** Overrides of the delivery's retry settings (tests shorten them). */
  delivery?: Omit<PostWebhookParameters, "url" | "body" | "signal">;
};

export type ObserveParameters = {
  jobId: string;
  provider: string;
  channelId: bigint;
  amount: bigint;
  budget: bigint;
  signed: boolean;
};

export type BudgetAlerts = {
  /** Raises every threshold `amount` reached that this job has not alerted yet; returns those alerts. */
  observe(p: ObserveParameters): BudgetAlert[];
  /** Resolves when every webhook delivery started so far has succeeded or given up. */
  settled(): Promise<void>;
  /** Stops retries in flight. */
  stop(): void;
};

/**
 * Budget alerts for a submitter's jobs: when a job's amount reaches a threshold percentage of its
 * budget (exactly: `amount × 100 ≥ threshold × budget`), one line goes to `notify` and, when a
 * webhook is set, the alert is POSTed to it in the background with retries. Each threshold alerts
 * once per job, recorded in the store in the same step that decides it, so a re-attached CLI does
 * not alert again.
 */
export function createBudgetAlerts(components: BudgetAlertsComponents, init: BudgetAlertsInit): BudgetAlerts {
  const pending = new Set<Promise<void>>();
  const controller = new AbortController();
  const notify = components.notify ?? (() => {});
  return {
    observe(p) {
      const fired: BudgetAlert[] = [];
      if (p.budget <= 0n) return fired;
      for (const threshold of init.thresholds) {
        if (p.amount * 100n < BigInt(threshold) * p.budget) continue;
        const at = Date.now();
        if (!recordAlert(components.store, { jobId: p.jobId, threshold, amount: p.amount, firedAt: at }))
          continue;
        const alert: BudgetAlert = {
          type: "gridspot.budget.threshold",
          jobId: p.jobId,
          provider: p.provider,
          channelId: p.channelId,
          threshold,
          amount: p.amount,
          budget: p.budget,
          signed: p.signed,
          at: new Date(at).toISOString(),
        };
        fired.push(alert);
        notify(
          `budget alert: job ${p.jobId} reached ${threshold}% of its budget (${grid(p.amount)} of ${grid(p.budget)}${p.signed ? "" : ", in a note that was refused"})`,
        );
        if (init.webhook !== null) deliver(init.webhook, alert);
      }
      return fired;
    },
    async settled() {
      while (pending.size > 0) await Promise.all([...pending]);
    },
    stop() {
      controller.abort();
    },
  };

  function deliver(url: string, alert: BudgetAlert): void {
    const delivery = postWebhook({ ...init.delivery, url, body: alert, signal: controller.signal }).then(
      (outcome) => {
        if (!outcome.ok)
          notify(
            `budget alert webhook failed after ${outcome.attempts} attempt(s) (${outcome.error}): job ${alert.jobId} at ${alert.threshold}%`,
          );
      },
    );
    pending.add(delivery);
    void delivery.finally(() => pending.delete(delivery));
  }
}

const grid = (amount: bigint) => `${formatUnits(amount, 18)} GRID`;
