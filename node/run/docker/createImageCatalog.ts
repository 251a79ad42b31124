import type Docker from "dockerode";
import { checkImagePolicy, type ImagePolicy } from "./imagePolicy.ts";
import { parseImageReference } from "./parseImageReference.ts";

/** How often the catalog re-lists the host's images. */
export const IMAGE_CATALOG_REFRESH_MS = 10_000;

/** One image on the host, as the catalog knows it. */
interface CatalogImage {
  id: string;
  /** Canonical `repository:tag` names. */
  tags: Set<string>;
  /** `sha256:` parts of its repo digests. */
  digests: Set<string>;
  sizeBytes: number;
}

/** The images on the host, for the bid engine's synchronous policy check. */
export interface ImageCatalog {
  /** Why an order naming `reference` would be refused (policy, absent image), or undefined. */
  refuse(reference: string): string | undefined;
  /** Re-lists the images now (also done every {@link IMAGE_CATALOG_REFRESH_MS}). */
  refresh(): Promise<void>;
  stop(): void;
}

/**
 * Keeps a list of the host's images so that the bid engine can decline an order whose image this
 * node would refuse at start (`image-not-allowed`) without a call to the Engine per order: the
 * reference is checked against the operator's policy with what the host knows of it (digests, size);
 * with `pull: "never"` an image the host lacks is refused too. The runtime checks again at start.
 */
export async function createImageCatalog(docker: Docker, policy: ImagePolicy): Promise<ImageCatalog> {
  let images: CatalogImage[] = [];
  const refresh = async () => {
    const list = await docker.listImages();
    images = list.map((image) => ({
      id: image.Id,
      tags: new Set(
        (image.RepoTags ?? []).flatMap((tag) => {
          const parsed = parseImageReference(tag);
          return parsed?.repository === undefined ? [] : [`${parsed.repository}:${parsed.tag ?? "latest"}`];
        }),
      ),
      digests: new Set((image.RepoDigests ?? []).map((d) => d.slice(d.indexOf("@") + 1))),
      sizeBytes: image.Size,
    }));
  };
  await refresh();
  const timer = setInterval(() => void refresh().catch(() => {}), IMAGE_CATALOG_REFRESH_MS);
  timer.unref();

  const find = (reference: string): CatalogImage | undefined => {
    const parsed = parseImageReference(reference);
    if (parsed === undefined) return undefined;
    return images.find((image) => {
      if (parsed.repository === undefined) return image.id === parsed.digest;
      if (parsed.digest !== undefined) return image.digests.has(parsed.digest);
      return image.tags.has(`${parsed.repository}:${parsed.tag ?? "latest"}`);
    });
  };

  return {
    refresh,
    stop: () => clearInterval(timer),
    refuse(reference) {
      const image = find(reference);
      if (image === undefined) {
        if (policy.pull === "never") return `image ${reference} is not present on this provider`;
        const verdict = checkImagePolicy(policy, { reference });
        return verdict.ok ? undefined : verdict.detail;
      }
      // Allowed when any of its names passes (a repo digest, or its ID), as at start.
      const verdicts = [...image.digests, image.id].map((digest) =>
        checkImagePolicy(policy, { reference, digest, sizeBytes: image.sizeBytes }),
      );
      const allowed = verdicts.find((v) => v.ok);
      if (allowed !== undefined) return undefined;
      const first = verdicts[0];
      return first !== undefined && !first.ok ? first.detail : `image ${reference} is not allowed`;
    },
  };
}
