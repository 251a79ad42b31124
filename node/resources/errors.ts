import { BaseError } from "../../marketplace/errors/base.ts";

/** GPU detection failed: nvidia-smi missing when GPUs are required, failing, or printing garbage. */
export class ResourceDetectionError extends Error {
  override name = "ResourceDetectionError";
  /** The command run, its exit code and output, when there was one. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Readonly<Record<string, unknown>> = {}, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.details = details;
  }
}

/**
 * The GPU preflight at `provider start` failed: GPUs are configured or required, and nvidia-smi is
 * missing, broken, or finds fewer than expected. The message names the command and what it printed.
 */
export class GpuPreflightError extends BaseError {
  override name = "GpuPreflightError";
}
