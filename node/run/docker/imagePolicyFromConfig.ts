import type { ProviderConfig } from "../../config/providerConfig.ts";
import type { ImagePolicy } from "./imagePolicy.ts";

/** The image policy `runtime.docker` sets: for jobs' containers and endpoints' replicas alike. */
export function imagePolicyFromConfig(docker: ProviderConfig["runtime"]["docker"]): ImagePolicy {
  return {
    pull: docker.pull,
    deny: docker.deny,
    ...(docker.allow === undefined ? {} : { allow: docker.allow }),
    ...(docker.digests === undefined ? {} : { digests: docker.digests }),
    ...(docker.maxImageMiB === undefined ? {} : { maxImageBytes: docker.maxImageMiB * 1024 * 1024 }),
  };
}
