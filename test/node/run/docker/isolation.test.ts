import { dockerMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(dockerMissing);

import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RunError } from "../../../../node/run/errors.ts";
import { testRuntime, textSink } from "./helpers.ts";

let t: Awaited<ReturnType<typeof testRuntime>>;
beforeAll(async () => {
  if (dockerMissing) return;
  t = await testRuntime();
});
afterEach(async () => {
  if (dockerMissing) return;
  await t.cleanup();
});

describe("docker runtime: a job in its container", () => {
  it("runs the command in the image, streams stdout and stderr, and passes the exit code through", async () => {
    const out = textSink();
    const workDir = t.workDir();
    writeFileSync(join(workDir, "input.txt"), "from the buyer\n");
    const before = Date.now();
    const handle = await t.sh("cat input.txt; echo oops >&2; ls /bin/busybox; exit 3", { ...out, workDir });
    expect(handle).toMatchObject({ runtime: "docker", sandbox: "docker", workDir });
    expect(handle.id).toMatch(/^[0-9a-f]{64}$/);
    expect(handle.imageDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(handle.startedAt).toBeGreaterThanOrEqual(before - 1_000);
    const exit = await handle.exited;
    expect(exit).toMatchObject({ exitCode: 3, signal: null, reason: "exit" });
    expect(exit).not.toHaveProperty("detail");
    expect(exit.endedAt).toBeGreaterThanOrEqual(exit.startedAt);
    expect(out.stdout()).toBe("from the buyer\n/bin/busybox\n");
    expect(out.stderr()).toBe("oops\n");
  });

  it("runs as the non-root user with no capabilities, a read-only root and only /work and /tmp writable", async () => {
    const out = textSink();
    const workDir = t.workDir();
    const handle = await t.sh(
      [
        'echo "user $(id -u):$(id -g)"',
        "grep CapEff /proc/self/status",
        "touch /rootfile 2>/dev/null && echo root-writable || echo root-read-only",
        "echo x >> /etc/hosts 2>/dev/null && echo hosts-writable || echo hosts-read-only",
        "echo result > /work/result.txt && echo work-writable",
        "touch /tmp/t && echo tmp-writable",
        "cp /bin/busybox /tmp/bb && /tmp/bb true 2>/dev/null && echo tmp-exec || echo tmp-noexec",
        "ls -l /var/run/docker.sock /run/docker.sock 2>/dev/null || echo no-docker-socket",
        'echo "pwd $(pwd)"',
        "grep -E ' (/work|/tmp) ' /proc/mounts | cut -d' ' -f2,4",
      ].join("; "),
      { ...out, workDir },
    );
    expect((await handle.exited).exitCode).toBe(0);
    const lines = out.stdout().split("\n");
    expect(lines).toContain("user 65534:65534");
    expect(lines).toContain("CapEff:\t0000000000000000");
    expect(lines).toContain("root-read-only");
    expect(lines).toContain("hosts-read-only");
    expect(lines).toContain("work-writable");
    expect(lines).toContain("tmp-writable");
    expect(lines).toContain("tmp-noexec");
    expect(lines).toContain("no-docker-socket");
    expect(lines).toContain("pwd /work");
    expect(out.stdout()).toMatch(/^\/tmp rw,nosuid,nodev,noexec.*size=65536k/m);
    // The job's files land in the host's work dir, owned by the job's user.
    expect(readFileSync(join(workDir, "result.txt"), "utf8")).toBe("result\n");
    expect(statSync(join(workDir, "result.txt")).uid).toBe(65534);
  });

  it("gives the job its own variables and the GPU assignment, nothing from the daemon", async () => {
    process.env.GRIDSPOT_TEST_SECRET = "daemon-only";
    const out = textSink();
    const handle = await t.sh("env", { ...out, env: { MODEL: "llama", CUDA_VISIBLE_DEVICES: "7" } });
    expect((await handle.exited).exitCode).toBe(0);
    const env = Object.fromEntries(
      out
        .stdout()
        .trim()
        .split("\n")
        .map((l) => l.split(/=(.*)/s).slice(0, 2)),
    );
    expect(env).toMatchObject({ MODEL: "llama", CUDA_VISIBLE_DEVICES: "", NVIDIA_VISIBLE_DEVICES: "void" });
    expect(env).not.toHaveProperty("GRIDSPOT_TEST_SECRET");
    expect(env.PWD).toBe("/work");
    delete process.env.GRIDSPOT_TEST_SECRET;
  });

  it("has no network: only loopback, and the host is unreachable", async () => {
    const server: Server = createServer((socket) => socket.end("hello from the host\n"));
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const out = textSink();
      const handle = await t.sh(
        [
          "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '",
          `wget -q -T 2 -O - http://127.0.0.1:${port}/ 2>/dev/null && echo reached-loopback || echo no-loopback-server`,
          `nc -w 2 172.17.0.1 ${port} </dev/null 2>/dev/null && echo reached-bridge || echo no-bridge`,
          `nc -w 2 1.1.1.1 53 </dev/null 2>/dev/null && echo reached-internet || echo no-internet`,
        ].join("; "),
        out,
      );
      expect((await handle.exited).exitCode).toBe(0);
      expect(out.stdout().split("\n")).toEqual(["lo", "no-loopback-server", "no-bridge", "no-internet", ""]);
    } finally {
      server.close();
    }
  });

  it("leaves no process behind: a daemonized child dies with the job", async () => {
    const out = textSink();
    const handle = await t.sh("setsid sh -c 'sleep 1000' & sleep 0.2; echo started", out);
    expect((await handle.exited).reason).toBe("exit");
    expect(out.stdout()).toBe("started\n");
    const inspect = await t.docker.getContainer(handle.id).inspect();
    expect(inspect.State.Running).toBe(false);
    // No host process is left in the container's cgroup.
    const inContainer = readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(handle.id);
        } catch {
          return false;
        }
      });
    expect(inContainer).toEqual([]);
    await handle.remove();
    await expect(t.docker.getContainer(handle.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  it("labels containers with node and job, and cleanupOrphans removes what a previous run left", async () => {
    const left = await t.sh("sleep 1000", { jobId: "job-left-behind" });
    const info = await t.docker.getContainer(left.id).inspect();
    expect(info.Config.Labels).toMatchObject({
      "gridspot.node": t.nodeLabel,
      "gridspot.job": "job-left-behind",
    });
    expect(info.HostConfig).toMatchObject({
      ReadonlyRootfs: true,
      CapDrop: ["ALL"],
      SecurityOpt: ["no-new-privileges"],
      NetworkMode: "none",
      NanoCpus: 1e9,
      Memory: 64 * 1024 * 1024,
      MemorySwap: 64 * 1024 * 1024,
      PidsLimit: 64,
      Init: true,
    });
    // The work dir and a tmpfs /tmp: nothing else (never the Docker socket, never a volume).
    const mounts = info.Mounts.map((m) => `${m.Type} ${m.Destination} ${m.RW ? "rw" : "ro"}`).sort();
    expect(mounts).toEqual(["bind /work rw", "tmpfs /tmp rw"]);

    // This runtime still runs it: not an orphan to itself.
    expect(await t.runtime.cleanupOrphans()).toBe(0);
    // The node restarts: a new runtime with the same label finds it and removes it.
    const restarted = await testRuntime({ nodeLabel: t.nodeLabel });
    expect(await restarted.runtime.cleanupOrphans()).toBe(1);
    expect((await left.exited).exitCode).not.toBe(0);
    await expect(t.docker.getContainer(left.id).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });
});

describe("docker runtime: images", () => {
  const others: Array<Awaited<ReturnType<typeof testRuntime>>> = [];
  afterAll(async () => {
    for (const other of others) await other.cleanup();
  });

  it("refuses an image the policy does not allow, and one the host lacks", async () => {
    const strict = await testRuntime({ imagePolicy: { pull: "never", allow: ["ghcr.io/acme/*"] } });
    others.push(strict);
    const refused = strict.sh("true");
    await expect(refused).rejects.toBeInstanceOf(RunError);
    await expect(refused).rejects.toThrow(/matches no allowed repository or digest/);
    await expect(t.sh("true", { image: "gridspot/not-here:1" })).rejects.toThrow(
      "image gridspot/not-here:1 is not present on this host",
    );
  });

  it("allows an image pinned by its digest, and records the digest that ran", async () => {
    const id = (await t.docker.getImage("gridspot/busybox:local").inspect()).Id;
    const pinned = await testRuntime({
      imagePolicy: { pull: "never", allow: ["ghcr.io/acme/*"], digests: [id] },
    });
    others.push(pinned);
    const handle = await pinned.sh("true");
    expect((await handle.exited).exitCode).toBe(0);
    expect(handle.imageDigest).toBe(id);
  });

  it("reports itself in status", () => {
    expect(t.runtime.kind).toBe("docker");
    expect(t.runtime.status()).toMatchObject({ kind: "docker", limits: "docker", gpus: { usable: false } });
    expect(t.runtime.status().description).toMatch(/^docker \S+ \(API \d+\.\d+\)$/);
  });
});
