import { dockerMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(dockerMissing);

import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { ensureBusyboxImage } from "../../../../scripts/lib/localImages.ts";
import { dockerClient } from "./helpers.ts";

// A tag of its own, so the build itself is exercised (the shared test image is built only once).
const tag = `gridspot/busybox:test-${randomBytes(4).toString("hex")}`;

afterAll(async () => {
  if (dockerMissing) return;
  await dockerClient()
    .getImage(tag)
    .remove()
    .catch(() => {});
});

describe("ensureBusyboxImage", () => {
  it("builds a scratch image with busybox offline, and reuses it once built", async () => {
    const docker = dockerClient();
    const id = await ensureBusyboxImage(docker, tag);
    expect(id).toMatch(/^sha256:[0-9a-f]{64}$/);
    const started = performance.now();
    expect(await ensureBusyboxImage(docker, tag)).toBe(id);
    expect(performance.now() - started).toBeLessThan(1_000);

    const info = await docker.getImage(tag).inspect();
    expect(info.RepoTags).toContain(tag);
    // busybox (~2 MB) and its links, nothing else.
    expect(info.Size).toBeLessThan(5 * 1024 * 1024);
  });

  it("runs busybox in it: /bin holds the applets, / holds nothing but /bin and /work", async () => {
    const docker = dockerClient();
    await ensureBusyboxImage(docker, tag);
    const container = await docker.createContainer({
      Image: tag,
      Cmd: ["sh", "-c", "busybox | head -n 1; ls /bin | grep -cx -e sh -e wget -e nc -e dd; ls -A /"],
      HostConfig: { NetworkMode: "none" },
    });
    try {
      await container.start();
      expect(await container.wait()).toMatchObject({ StatusCode: 0 });
      const logs = (await container.logs({ stdout: true, stderr: true, follow: false })) as Buffer;
      // Each frame: an 8-byte header (stream, size), then the payload.
      let text = "";
      for (let at = 0; at + 8 <= logs.length; at += 8 + logs.readUInt32BE(at + 4)) {
        text += logs.subarray(at + 8, at + 8 + logs.readUInt32BE(at + 4)).toString("utf8");
      }
      const lines = text.trim().split("\n");
      expect(lines[0]).toMatch(/^BusyBox v1\./);
      expect(lines[1]).toBe("4");
      // Docker adds /dev, /etc (hosts, resolv.conf), /proc, /sys and .dockerenv at run time.
      expect(lines.slice(2).filter((n) => ![".dockerenv", "dev", "etc", "proc", "sys"].includes(n))).toEqual([
        "bin",
        "work",
      ]);
    } finally {
      await container.remove({ force: true });
    }
  });
});
