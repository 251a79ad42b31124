import { writeFileSync } from "node:fs";
import { join } from "node:path";

/** The fake nvidia-smi of test/fixtures (recorded real outputs; see its header). */
export const FAKE_NVIDIA_SMI = join(import.meta.dirname, "..", "..", "fixtures", "bin", "nvidia-smi");

/** What the fake reports for the metering queries (FAKE_NVIDIA_SMI_STATE). */
export type FakeGpuState = {
  apps?: { pid: number; gpu: number; usedMiB: number }[];
  utilization?: Record<string, number>;
  fail?: "broken" | "garbage" | "hang";
};

/** Writes the fake's state file; the fake reads it at every call. */
export function writeFakeGpuState(file: string, state: FakeGpuState): void {
  writeFileSync(file, JSON.stringify(state));
}

/** Environment that selects a recorded machine and, optionally, a state file. */
export function fakeEnv(profile: string, stateFile?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    FAKE_NVIDIA_SMI_PROFILE: profile,
    ...(stateFile === undefined ? {} : { FAKE_NVIDIA_SMI_STATE: stateFile }),
  };
}
