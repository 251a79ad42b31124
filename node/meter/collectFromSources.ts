import type { MeterObservation, UsageEvent, UsageSource } from "./types.ts";

/**
 * Every source's events for one sample, at once; a source that fails loses only its own events of
 * this sample (told to `onError`), never the others'.
 */
export async function collectFromSources(
  sources: readonly UsageSource[],
  observation: MeterObservation,
  onError: (error: unknown) => void,
): Promise<UsageEvent[]> {
  const collected = await Promise.allSettled(sources.map(async (source) => source.collect(observation)));
  const events: UsageEvent[] = [];
  for (const result of collected) {
    if (result.status === "fulfilled") events.push(...result.value);
    else onError(result.reason);
  }
  return events;
}
