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
