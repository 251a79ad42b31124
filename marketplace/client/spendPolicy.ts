import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { UsageError } from "../errors/usage.ts";
import { summarizeZodError } from "../messages/envelope.ts";
import { uintString } from "../messages/primitives.ts";
import { DEFAULT_ALERT_THRESHOLDS, SPEND_POLICY_FILE } from "./constants.ts";

/**
 * `<dataDir>/policy.json`, every key optional; unknown keys are refused (a misspelt cap must not
 * silently mean "no cap"). Amounts are GRID base units as decimal strings, never JSON numbers.
 *
 * ```json
 * { "dailyCap": "20000000000000000000", "channelCap": "50000000000000000000",
 *   "alerts": { "thresholds": [50, 80, 100], "webhook": "https://hooks.example/gridspot" } }
 * ```
 */
export const spendPolicyFile = z
  .object({
    /** The most this submitter signs per UTC day, over all jobs and channels. */
    dailyCap: uintString.optional(),
    /** The most ever signed on one channel (its cumulative voucher amount). */
    channelCap: uintString.optional(),
    alerts: z
      .object({
        /** Percentages of each job's budget; each alerts once per job. */
        thresholds: z.array(z.number().int().min(1).max(100)).max(20).optional(),
        webhook: z
          .string()
          .url()
          .refine((u) => /^https?:\/\//.test(u), "the webhook must be an http(s) URL")
          .optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The submitter's spend policy, resolved: null caps are unlimited. */
export type SpendPolicy = {
  dailyCap: bigint | null;
  channelCap: bigint | null;
  alerts: { thresholds: number[]; webhook: string | null };
};

export const DEFAULT_SPEND_POLICY: SpendPolicy = {
  dailyCap: null,
  channelCap: null,
  alerts: { thresholds: [...DEFAULT_ALERT_THRESHOLDS], webhook: null },
};

/**
 * Reads `<dataDir>/policy.json`. No file means no caps and the default alert thresholds.
 * @throws UsageError naming the file and the first problems when it is not valid JSON or not a policy.
 */
export async function readSpendPolicy(dataDir: string): Promise<SpendPolicy> {
  const file = join(dataDir, SPEND_POLICY_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return structuredClone(DEFAULT_SPEND_POLICY);
    throw new UsageError(`Cannot read the spend policy ${file}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`The spend policy ${file} is not valid JSON`, { cause: error });
  }
  const parsed = spendPolicyFile.safeParse(json);
  if (!parsed.success) {
    throw new UsageError(`The spend policy ${file} is invalid: ${summarizeZodError(parsed.error)}`, {
      metaMessages: ['Amounts are GRID base units as strings, e.g. { "dailyCap": "5000000000000000000" }.'],
    });
  }
  const p = parsed.data;
  return {
    dailyCap: p.dailyCap ?? null,
    channelCap: p.channelCap ?? null,
    alerts: {
      thresholds: [...new Set(p.alerts?.thresholds ?? DEFAULT_ALERT_THRESHOLDS)].sort((a, b) => a - b),
      webhook: p.alerts?.webhook ?? null,
    },
  };
}
