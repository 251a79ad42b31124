import { INHERITED_ENV } from "./constants.ts";
import { RunError } from "./errors.ts";

/**
 * A job's environment: PATH, HOME and LANG from the daemon, then the job's own variables, then the
 * GPU assignment, which the job cannot override. `CUDA_DEVICE_ORDER=PCI_BUS_ID` makes CUDA number
 * devices like nvidia-smi does, so the indices in `CUDA_VISIBLE_DEVICES` are the assigned ones
 * (CUDA's default order is fastest first).
 * @throws RunError on a variable name that is not a shell identifier or a value with a NUL byte.
 */
export function jobEnv(
  parentEnv: NodeJS.ProcessEnv,
  env: Readonly<Record<string, string>>,
  gpus: readonly number[],
): Record<string, string> {
  const result: Record<string, string> = {};
  for (const name of INHERITED_ENV) {
    const value = parentEnv[name];
    if (value !== undefined) result[name] = value;
  }
  for (const [name, value] of Object.entries(env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new RunError(`invalid environment variable name ${JSON.stringify(name)}`, { name });
    }
    if (typeof value !== "string" || value.includes("\0")) {
      throw new RunError(`environment variable ${name} must be a string without NUL bytes`, { name });
    }
    result[name] = value;
  }
  result.CUDA_VISIBLE_DEVICES = gpus.join(",");
  result.CUDA_DEVICE_ORDER = "PCI_BUS_ID";
  return result;
}
