import { dockerMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(dockerMissing);

import { createServer, type Server } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { LIMITS, sleep, testRuntime, textSink } from "./helpers.ts";

let t: Awaited<ReturnType<typeof testRuntime>>;
beforeAll(async () => {
  if (dockerMissing) return;
  t = await testRuntime();
});
afterEach(async () => {
  if (dockerMissing) return;
  await t.cleanup();
});

describe("docker runtime: limits become exit reasons", () => {
  it("memory: past its limit the job is OOM-killed, reason oom", async () => {
    const handle = await t.sh("dd if=/dev/zero of=/dev/null bs=100M count=1; echo survived", {
      limits: { ...LIMITS, memMiB: 32 },
    });
    const exit = await handle.exited;
    expect(exit).toMatchObject({ reason: "oom", detail: "used more than its 32 MiB of memory" });
  });

  it("cpu: four busy threads on one core use at most one core", async () => {
    const handle = await t.sh("for i in 1 2 3 4; do (while :; do :; done) & done; wait", {
      limits: { ...LIMITS, cpuCores: 1, maxDurationMs: 3_000 },
      killGraceMs: 0,
    });
    const exit = await handle.exited;
    expect(exit.reason).toBe("timeout");
    const { cpuMs } = await handle.sample();
    const wallMs = exit.endedAt - exit.startedAt;
    expect(wallMs).toBeGreaterThanOrEqual(2_900);
    // One core's worth (CFS quota 100 ms per 100 ms period), with one period of slack.
    expect(Number(cpuMs)).toBeLessThanOrEqual(wallMs + 150);
    // It was metered (the lower bound is loose: on a busy CI host the job gets less than its core).
    expect(Number(cpuMs)).toBeGreaterThan(wallMs * 0.1);
  });

  it("pids: a fork bomb is killed, reason pids", async () => {
    // The classic bomb; the main shell stays, like a job that goes on after its forks fail.
    const handle = await t.sh("f() { f | f & }; f; sleep 30", { limits: { ...LIMITS, pids: 32 } });
    const exit = await handle.exited;
    expect(exit).toMatchObject({
      reason: "pids",
      detail: "tried to run more than its 32 processes and threads",
    });
    expect(exit.endedAt - exit.startedAt).toBeLessThan(2_000);
  });

  it("disk: writing past the quota is stopped, reason disk-quota", async () => {
    const handle = await t.sh("dd if=/dev/zero of=/work/big bs=1M count=500 2>/dev/null; sleep 30", {
      limits: { ...LIMITS, diskBytes: 50 * 1024 * 1024 },
    });
    const exit = await handle.exited;
    expect(exit.reason).toBe("disk-quota");
    expect(exit.detail).toMatch(/^held [\d.]+ MiB in its work dir, more than its 50 MiB quota$/);
    expect(exit.endedAt - exit.startedAt).toBeLessThan(10_000);
  });

  it("duration: past its max duration the job gets SIGTERM, reason timeout", async () => {
    const out = textSink();
    const handle = await t.sh("trap 'echo got TERM; exit 0' TERM; sleep 100 & wait", {
      ...out,
      limits: { ...LIMITS, maxDurationMs: 1_000 },
      killGraceMs: 5_000,
    });
    const exit = await handle.exited;
    expect(exit).toMatchObject({ reason: "timeout", detail: "ran past its maximum duration of 1000 ms" });
    expect(out.stdout()).toBe("got TERM\n");
    // It left on SIGTERM, well before the grace period ran out.
    expect(exit.endedAt - exit.startedAt).toBeLessThan(4_000);
  });

  it("cancel: ends the job with the message as detail", async () => {
    const handle = await t.sh("sleep 100");
    const exit = await handle.cancel("buyer stopped the job");
    expect(exit).toMatchObject({ reason: "cancelled", detail: "buyer stopped the job", signal: "SIGTERM" });
    expect(await handle.cancel("again")).toBe(exit);
  });

  it("suspend: paused time does not count toward the duration, and CPU does not advance", async () => {
    const handle = await t.sh("while :; do :; done", {
      limits: { ...LIMITS, maxDurationMs: 1_500 },
      killGraceMs: 0,
    });
    await sleep(300);
    await handle.suspend();
    expect(handle.suspended).toBe(true);
    const frozen = await handle.sample();
    await sleep(1_000);
    const stillFrozen = await handle.sample();
    expect(Number(stillFrozen.cpuMs - frozen.cpuMs)).toBeLessThanOrEqual(20);
    await handle.resume();
    expect(handle.suspended).toBe(false);
    const exit = await handle.exited;
    expect(exit.reason).toBe("timeout");
    // 1.5 s of running time plus 1 s paused.
    expect(exit.endedAt - exit.startedAt).toBeGreaterThanOrEqual(2_400);
    expect(Number((await handle.sample()).cpuMs)).toBeLessThan(1_800);
  });

  it("suspend: paused past maxSuspendedMs, reason suspended-timeout", async () => {
    const handle = await t.sh("sleep 100", { limits: { ...LIMITS, maxSuspendedMs: 500 } });
    await handle.suspend();
    const exit = await handle.exited;
    expect(exit).toMatchObject({ reason: "suspended-timeout", detail: "suspended for more than 500 ms" });
    expect(handle.suspended).toBe(false);
  });

  it("sample: reads the job's cgroup quickly while it runs, and keeps the last reading after", async () => {
    const handle = await t.sh("sleep 100");
    const began = performance.now();
    const sample = await handle.sample();
    expect(performance.now() - began).toBeLessThan(100);
    expect(sample.pids).toBe(2); // docker-init and sleep
    expect(sample.hostPids).toHaveLength(2);
    expect(sample.memKiB).toBeGreaterThan(0n);
    expect(sample).not.toHaveProperty("egressBytes");
    await handle.cancel();
    const after = await handle.sample();
    expect(after.cpuMs).toBeGreaterThanOrEqual(sample.cpuMs);
  });
});

describe("docker runtime: egress", () => {
  it("with network bridge, the job reaches the host and the bytes it sends are metered", async () => {
    let received = 0;
    const server: Server = createServer((socket) => socket.on("data", (chunk) => (received += chunk.length)));
    await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
    const port = (server.address() as { port: number }).port;
    const bridged = await testRuntime({ network: "bridge" });
    try {
      const handle = await bridged.sh(
        `gw=$(route -n | awk '$1 == "0.0.0.0" { print $2 }'); head -c 200000 /dev/zero | nc -w 2 $gw ${port}; sleep 100`,
      );
      let egress = 0n;
      for (let i = 0; i < 50 && egress < 200_000n; i++) {
        await sleep(100);
        egress = (await handle.sample()).egressBytes ?? 0n;
      }
      expect(received).toBe(200_000);
      expect(egress).toBeGreaterThan(200_000n);
    } finally {
      server.close();
      await bridged.cleanup();
    }
  });
});
