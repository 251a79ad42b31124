/** An image reference taken apart the way Docker does, with the repository in canonical form. */
export interface ImageReference {
  /** Canonical repository (`docker.io/library/ubuntu`, `ghcr.io/acme/trainer`); absent for a bare image ID. */
  repository?: string;
  /** The tag; `latest` when the reference names neither tag nor digest. */
  tag?: string;
  /** The `@sha256:…` part, or the image ID when the reference is one. */
  digest?: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-f0-9]{32,}$/;
const IMAGE_ID = /^sha256:[a-f0-9]{64}$/;
const MAX_NAME_LENGTH = 255;

/**
 * Parses `[domain/]path[:tag][@digest]` (or a full image ID `sha256:<64 hex>`) and normalizes the
 * repository like Docker: a first component that is not a domain (no `.` or `:`, not `localhost`)
 * means Docker Hub, and a one-component Hub name lives under `library/` (`ubuntu` →
 * `docker.io/library/ubuntu`). Returns undefined for a reference Docker would reject.
 */
export function parseImageReference(reference: string): ImageReference | undefined {
  if (IMAGE_ID.test(reference)) return { digest: reference };
  let rest = reference;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return undefined;
  }
  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return undefined;
  }
  const repository = canonicalRepository(rest);
  if (repository === undefined) return undefined;
  if (tag === undefined && digest === undefined) tag = "latest";
  return {
    repository,
    ...(tag === undefined ? {} : { tag }),
    ...(digest === undefined ? {} : { digest }),
  };
}

function canonicalRepository(name: string): string | undefined {
  if (name === "" || name.length > MAX_NAME_LENGTH) return undefined;
  const parts = name.split("/");
  const first = parts[0] as string;
  const hasDomain = parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost");
  const domain = !hasDomain || first === "index.docker.io" ? "docker.io" : first;
  const path = hasDomain ? parts.slice(1) : parts;
  if (hasDomain && !DOMAIN.test(domain)) return undefined;
  if (path.length === 0 || !path.every((component) => COMPONENT.test(component))) return undefined;
  if (domain === "docker.io" && path.length === 1) path.unshift("library");
  return `${domain}/${path.join("/")}`;
}
