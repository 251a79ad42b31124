import type Docker from "dockerode";
import { RunError } from "../errors.ts";
import { DOCKER_PULL_TIMEOUT_MS } from "./constants.ts";
import { checkImagePolicy, type ImagePolicy } from "./imagePolicy.ts";

/** The image a job will run, as found on the host. */
export interface ResolvedImage {
  /** The image ID, `sha256:…`. */
  id: string;
  /** What ran, for the receipt: the first repo digest (`repo@sha256:…`), else the image ID. */
  digest: string;
  sizeBytes: number;
  /** Paths the image declares as VOLUME (the runtime covers them with tmpfs: no host storage). */
  volumes: string[];
}

export interface ResolveImageParameters {
  reference: string;
  policy: ImagePolicy;
}

/**
 * Finds `reference` on the host (pulling it first when the policy says `missing`) and checks it
 * against the policy with what is known once it is here: its digests and size.
 * @throws RunError when the image is absent and may not be pulled, the pull fails, or the policy refuses it.
 */
export async function resolveImage(
  docker: Docker,
  parameters: ResolveImageParameters,
): Promise<ResolvedImage> {
  const { reference, policy } = parameters;
  let info = await inspectImage(docker, reference);
  if (info === undefined) {
    if (policy.pull !== "missing") {
      throw new RunError(`image ${reference} is not present on this host`, {
        code: "image-missing",
        image: reference,
      });
    }
    // Pull only what the reference alone may run (its own @digest counts); digest and size are checked once here.
    const before = checkImagePolicy(policy, { reference });
    if (!before.ok) throw new RunError(before.detail, { code: before.code, image: reference });
    await pullImage(docker, reference);
    info = await inspectImage(docker, reference);
    if (info === undefined)
      throw new RunError(`image ${reference} is still missing after its pull`, { image: reference });
  }

  const repoDigests = info.RepoDigests ?? [];
  const candidates = [...repoDigests.map((d) => d.slice(d.indexOf("@") + 1)), info.Id];
  const verdicts = candidates.map((digest) =>
    checkImagePolicy(policy, { reference, digest, sizeBytes: info.Size }),
  );
  const refusal = verdicts.every((v) => !v.ok) ? verdicts[0] : undefined;
  if (refusal !== undefined && !refusal.ok) {
    throw new RunError(refusal.detail, { code: refusal.code, image: reference, id: info.Id });
  }
  return {
    id: info.Id,
    digest: repoDigests[0] ?? info.Id,
    sizeBytes: info.Size,
    volumes: Object.keys(info.Config?.Volumes ?? {}),
  };
}

async function inspectImage(docker: Docker, reference: string): Promise<Docker.ImageInspectInfo | undefined> {
  try {
    return await docker.getImage(reference).inspect();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    throw new RunError(
      `cannot inspect image ${reference}: ${(error as Error).message}`,
      { image: reference },
      error,
    );
  }
}

async function pullImage(docker: Docker, reference: string): Promise<void> {
  try {
    const stream = await docker.pull(reference, { abortSignal: AbortSignal.timeout(DOCKER_PULL_TIMEOUT_MS) });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (error: Error | null, events: Array<{ error?: string }>) => {
        const failed = error?.message ?? events.find((e) => e.error !== undefined)?.error;
        if (failed === undefined) resolve();
        else reject(new Error(failed));
      });
    });
  } catch (error) {
    throw new RunError(
      `cannot pull image ${reference}: ${(error as Error).message}`,
      { image: reference },
      error,
    );
  }
}
