import { describe, expect, it } from "vitest";
import { checkImagePolicy, type ImagePolicy } from "../../../../node/run/docker/imagePolicy.ts";
import { parseImageReference } from "../../../../node/run/docker/parseImageReference.ts";

// Pure functions: these run with or without a Docker Engine.

const DIGEST = `sha256:${"a".repeat(64)}`;
const OTHER_DIGEST = `sha256:${"b".repeat(64)}`;

describe("parseImageReference", () => {
  it.each([
    ["ubuntu", { repository: "docker.io/library/ubuntu", tag: "latest" }],
    ["ubuntu:22.04", { repository: "docker.io/library/ubuntu", tag: "22.04" }],
    ["docker.io/library/ubuntu:22.04", { repository: "docker.io/library/ubuntu", tag: "22.04" }],
    ["index.docker.io/library/ubuntu", { repository: "docker.io/library/ubuntu", tag: "latest" }],
    ["pytorch/pytorch:2.3.0-cuda12.1", { repository: "docker.io/pytorch/pytorch", tag: "2.3.0-cuda12.1" }],
    ["ghcr.io/acme/trainer:v1", { repository: "ghcr.io/acme/trainer", tag: "v1" }],
    ["localhost:5000/job", { repository: "localhost:5000/job", tag: "latest" }],
    ["localhost/job", { repository: "localhost/job", tag: "latest" }],
    ["gridspot/busybox:local", { repository: "docker.io/gridspot/busybox", tag: "local" }],
    [`ubuntu@${DIGEST}`, { repository: "docker.io/library/ubuntu", digest: DIGEST }],
    [`ghcr.io/acme/x:1@${DIGEST}`, { repository: "ghcr.io/acme/x", tag: "1", digest: DIGEST }],
    [DIGEST, { digest: DIGEST }],
  ])("%s", (reference, expected) => {
    expect(parseImageReference(reference)).toEqual(expected);
  });

  it.each([
    "",
    "Ubuntu",
    "ubuntu:",
    "ubuntu:bad tag",
    "ubuntu@sha256:short",
    "-ubuntu",
    "a//b",
    "ghcr.io/acme/",
    `${"a".repeat(256)}`,
  ])("rejects %j", (reference) => {
    expect(parseImageReference(reference)).toBeUndefined();
  });
});

describe("checkImagePolicy", () => {
  const open: ImagePolicy = { pull: "never" };
  const check = (
    policy: ImagePolicy,
    reference: string,
    extra: { digest?: string; sizeBytes?: number } = {},
  ) => checkImagePolicy(policy, { reference, ...extra });

  it("allows any valid image by default", () => {
    expect(check(open, "ubuntu:22.04")).toEqual({ ok: true });
    expect(check(open, DIGEST)).toEqual({ ok: true });
  });

  it("refuses a malformed reference", () => {
    expect(check(open, "Not An Image")).toEqual({
      ok: false,
      code: "image-not-allowed",
      detail: '"Not An Image" is not a valid image reference',
    });
  });

  it("matches exact repositories on any tag, normalized like Docker", () => {
    const policy: ImagePolicy = { pull: "never", allow: ["ubuntu", "docker.io/pytorch/pytorch"] };
    expect(check(policy, "ubuntu").ok).toBe(true);
    expect(check(policy, "ubuntu:22.04").ok).toBe(true);
    expect(check(policy, "docker.io/library/ubuntu:20.04").ok).toBe(true);
    expect(check(policy, "pytorch/pytorch:latest").ok).toBe(true);
    expect(check(policy, `ubuntu@${DIGEST}`).ok).toBe(true);
    expect(check(policy, "ubuntu-custom").ok).toBe(false);
    expect(check(policy, "ghcr.io/library/ubuntu").ok).toBe(false);
    expect(check(policy, "evil/ubuntu").ok).toBe(false);
  });

  it("matches repo:tag patterns on that tag only", () => {
    const policy: ImagePolicy = { pull: "never", allow: ["ubuntu:22.04", "localhost:5000/job:v2"] };
    expect(check(policy, "ubuntu:22.04").ok).toBe(true);
    expect(check(policy, "ubuntu:20.04").ok).toBe(false);
    expect(check(policy, "ubuntu").ok).toBe(false);
    expect(check(policy, "localhost:5000/job:v2").ok).toBe(true);
    expect(check(policy, "localhost:5000/job:v3").ok).toBe(false);
  });

  it("matches prefixes ending in *", () => {
    const policy: ImagePolicy = { pull: "never", allow: ["ghcr.io/acme/*", "pytorch/*", "ubuntu:22*"] };
    expect(check(policy, "ghcr.io/acme/trainer:v1").ok).toBe(true);
    expect(check(policy, "ghcr.io/acme/team/inference").ok).toBe(true);
    expect(check(policy, "ghcr.io/acmecorp/trainer").ok).toBe(false);
    expect(check(policy, "ghcr.io/other/trainer").ok).toBe(false);
    expect(check(policy, "pytorch/pytorch:2.3").ok).toBe(true);
    expect(check(policy, "docker.io/pytorch/torchserve").ok).toBe(true);
    expect(check(policy, "pytorchx/pytorch").ok).toBe(false);
    expect(check(policy, "ubuntu:22.04").ok).toBe(true);
    expect(check(policy, "ubuntu:20.04").ok).toBe(false);
    expect(check({ pull: "never", allow: ["*"] }, "anything/at:all").ok).toBe(true);
    expect(check({ pull: "never", allow: ["docker.io/*"] }, "ubuntu").ok).toBe(true);
    expect(check({ pull: "never", allow: ["docker.io/*"] }, "ghcr.io/acme/x").ok).toBe(false);
  });

  it("lets deny win over allow and digests", () => {
    const policy: ImagePolicy = {
      pull: "never",
      allow: ["ghcr.io/acme/*"],
      deny: ["ghcr.io/acme/miner", "ghcr.io/acme/old:*"],
      digests: [DIGEST],
    };
    expect(check(policy, "ghcr.io/acme/trainer").ok).toBe(true);
    const denied = check(policy, "ghcr.io/acme/miner:v1", { digest: DIGEST });
    expect(denied).toEqual({
      ok: false,
      code: "image-not-allowed",
      detail: "image ghcr.io/acme/miner:v1 is denied by the pattern ghcr.io/acme/miner",
    });
    expect(check(policy, "ghcr.io/acme/old:v1").ok).toBe(false);
    expect(check({ pull: "never", deny: ["*"] }, "ubuntu").ok).toBe(false);
    expect(check({ pull: "never", deny: ["xmrig/*"] }, "xmrig/xmrig").ok).toBe(false);
    expect(check({ pull: "never", deny: ["xmrig/*"] }, "ubuntu").ok).toBe(true);
  });

  it("allows a pinned digest whatever the repository, from the facts or the reference", () => {
    const policy: ImagePolicy = { pull: "never", digests: [DIGEST] };
    expect(check(policy, "any/thing:1", { digest: DIGEST }).ok).toBe(true);
    expect(check(policy, `any/thing@${DIGEST}`).ok).toBe(true);
    expect(check(policy, DIGEST).ok).toBe(true);
    expect(check(policy, "any/thing:1", { digest: OTHER_DIGEST }).ok).toBe(false);
    expect(check(policy, "any/thing:1")).toEqual({
      ok: false,
      code: "image-not-allowed",
      detail: "image any/thing:1 matches no allowed repository or digest of this node",
    });
    // A digest pattern in `allow` is not how digests are pinned.
    expect(check({ pull: "never", allow: [`any/thing@${DIGEST}`] }, `any/thing@${DIGEST}`).ok).toBe(false);
  });

  it("refuses an image larger than maxImageBytes once its size is known", () => {
    const policy: ImagePolicy = { pull: "missing", maxImageBytes: 1_000 };
    expect(check(policy, "ubuntu").ok).toBe(true);
    expect(check(policy, "ubuntu", { sizeBytes: 1_000 }).ok).toBe(true);
    expect(check(policy, "ubuntu", { sizeBytes: 1_001 })).toEqual({
      ok: false,
      code: "image-not-allowed",
      detail: "image ubuntu holds 1001 bytes, more than this node's limit of 1000",
    });
  });
});
