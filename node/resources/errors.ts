import { BaseError } from "../../marketplace/errors/base.ts";

/** GPU detection failed: nvidia-smi missing when GPUs are required, failing, or printing garbage. */
export class ResourceDetectionError extends BaseError {
  override name = "ResourceDetectionError";

  constructor(message: string, facts: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, { facts, cause });
  }
}

/**
 * The GPU preflight at `provider start` failed: GPUs are configured or required, and nvidia-smi is
 * missing, broken, or finds fewer than expected. The message names the command and what it printed.
 */
export class GpuPreflightError extends BaseError {
  override name = "GpuPreflightError";
}
