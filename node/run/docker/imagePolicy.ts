import { parseImageReference } from "./parseImageReference.ts";

/**
 * Which images this node runs. Patterns are Docker repository names, normalized like Docker
 * (`ubuntu` = `docker.io/library/ubuntu`): `repo` (any tag), `repo:tag` (that tag), or a prefix
 * ending in `*` (`ghcr.io/acme/*`, `pytorch/*`, `*` for all).
 */
export interface ImagePolicy {
  /** Repository patterns allowed. With `allow` or `digests` set, an image must match one of them. */
  allow?: readonly string[];
  /** Repository patterns refused, whatever `allow` and `digests` say. */
  deny?: readonly string[];
  /** `sha256:` digests allowed (a repo digest or an image ID), whatever the repository. */
  digests?: readonly string[];
  /** `never`: only images already on the host; `missing`: pull an image the host lacks. */
  pull: "never" | "missing";
  /** Largest image accepted, bytes (uncompressed, as the Engine reports it). */
  maxImageBytes?: number;
}

/** What is known of the image at the time of the check (the bid engine knows only the reference). */
export interface ImageFacts {
  /** The reference as the order or job names it: `repo[:tag][@digest]` or an image ID. */
  reference: string;
  /** The image's repo digest or ID once it is on the host. */
  digest?: string;
  sizeBytes?: number;
}

export type ImagePolicyResult = { ok: true } | { ok: false; code: "image-not-allowed"; detail: string };

/**
 * Checks an image against the operator's policy: refused when the reference is malformed, matches a
 * `deny` pattern, matches neither `allow` nor `digests` (when either is set), or is larger than
 * `maxImageBytes` (when the size is known). A digest counts when it is `facts.digest` or the
 * reference's own `@sha256:…`. Pure.
 */
export function checkImagePolicy(policy: ImagePolicy, facts: ImageFacts): ImagePolicyResult {
  const refuse = (detail: string): ImagePolicyResult => ({ ok: false, code: "image-not-allowed", detail });
  const parsed = parseImageReference(facts.reference);
  if (parsed === undefined)
    return refuse(`${JSON.stringify(facts.reference)} is not a valid image reference`);
  const subject = {
    repository: parsed.repository,
    tag: parsed.tag,
  };
  const denied = policy.deny?.find((pattern) => matchesPattern(pattern, subject));
  if (denied !== undefined) return refuse(`image ${facts.reference} is denied by the pattern ${denied}`);

  if (policy.allow !== undefined || policy.digests !== undefined) {
    const digests = [facts.digest, parsed.digest].filter((d): d is string => d !== undefined);
    const allowedByName = policy.allow?.some((pattern) => matchesPattern(pattern, subject)) ?? false;
    const allowedByDigest = digests.some((d) => policy.digests?.includes(d) ?? false);
    if (!allowedByName && !allowedByDigest) {
      return refuse(`image ${facts.reference} matches no allowed repository or digest of this node`);
    }
  }

  if (
    policy.maxImageBytes !== undefined &&
    facts.sizeBytes !== undefined &&
    facts.sizeBytes > policy.maxImageBytes
  ) {
    return refuse(
      `image ${facts.reference} holds ${facts.sizeBytes} bytes, more than this node's limit of ${policy.maxImageBytes}`,
    );
  }
  return { ok: true };
}

function matchesPattern(
  pattern: string,
  subject: { repository: string | undefined; tag: string | undefined },
): boolean {
  if (pattern === "*") return true;
  if (subject.repository === undefined) return false;
  if (pattern.endsWith("*")) {
    const prefix = canonicalPrefix(pattern.slice(0, -1));
    const full = subject.tag === undefined ? subject.repository : `${subject.repository}:${subject.tag}`;
    return full.startsWith(prefix);
  }
  // Digests are pinned through `digests`, not through repository patterns.
  if (pattern.includes("@")) return false;
  const parsed = parseImageReference(pattern);
  if (parsed?.repository !== subject.repository) return false;
  // `repo` (parsed with the default tag) matches every tag; `repo:tag` only that one.
  const namesTag = pattern.lastIndexOf(":") > pattern.lastIndexOf("/");
  return !namesTag || parsed.tag === subject.tag;
}

/**
 * `acme/` → `docker.io/acme/`, `ubuntu:22` → `docker.io/library/ubuntu:22`, `ghcr.io/acme/` and
 * `ghcr.io` unchanged (a head without a slash is a domain when it has a dot, else a Hub name).
 */
function canonicalPrefix(head: string): string {
  const slash = head.indexOf("/");
  if (slash < 0) return head.includes(".") ? head : `docker.io/library/${head}`;
  const first = head.slice(0, slash);
  if (first === "index.docker.io") return `docker.io${head.slice(first.length)}`;
  if (first.includes(".") || first.includes(":") || first === "localhost") return head;
  return `docker.io/${head}`;
}
