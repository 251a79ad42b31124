// The escape suite: the same hostile jobs against both runtimes, through the runtime objects a
// provider uses, on real containers and real sandboxed processes. Each job is a busybox shell
// script (the Docker runtime runs it in a busybox image built here; the process runtime runs the
// host's busybox-static in its sandbox), and each test asserts containment from the host's side.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJobMeter } from "../../node/meter/createJobMeter.ts";
import { collectOutputs } from "../../node/run/collectOutputs.ts";
import { createDockerRuntime } from "../../node/run/docker/createDockerRuntime.ts";
import { createProcessRuntime } from "../../node/run/process/createProcessRuntime.ts";
import type { JobHandle, JobLimits, JobRuntime } from "../../node/run/runtime.ts";
import type { JobExit } from "../../node/run/types.ts";
import { ensureBusyboxImage } from "../../scripts/lib/localImages.ts";
import { bwrapMissing, DOCKER_SOCKET, dockerMissing, skipWhen } from "../support/requires.ts";

const IMAGE = "gridspot/busybox:local";
const HOST_BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));
const notRoot =
  process.getuid?.() !== 0 ? "the escape suite needs root (jobs run as another uid)" : undefined;

const LIMITS: JobLimits = {
  cpuCores: 1,
  memMiB: 128,
  pids: 64,
  diskBytes: 32 * 1024 * 1024,
  maxDurationMs: 60_000,
};

/** A secret the host holds: a fake data dir, a daemon with a key in its environment, a service. */
const secret = `gridspot-secret-${randomBytes(8).toString("hex")}`;
let dataDir: string;
let daemon: ChildProcess;
let server: Server;
let port = 0;
let served = 0;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "gridspot-escape-data-"));
  writeFileSync(join(dataDir, "keystore.json"), JSON.stringify({ secret }));
  writeFileSync(join(dataDir, "provider.db"), secret);
  // A stand-in for the provider daemon: a root process whose environment holds the private key.
  daemon = spawn("sleep", ["600"], {
    env: { PATH: process.env.PATH, GRIDSPOT_PRIVATE_KEY: secret },
    stdio: "ignore",
  });
  server = createServer((socket) => {
    served++;
    socket.on("error", () => {});
    socket.end(`${secret}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

afterAll(() => {
  daemon?.kill("SIGKILL");
  server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** One runtime under attack: how to build it and how its jobs call busybox. */
type Target = {
  name: string;
  missing: string | undefined;
  create: () => Promise<JobRuntime>;
  image?: string;
  shell: string[];
};

const TARGETS: Target[] = [
  {
    name: "docker",
    missing: dockerMissing ?? notRoot,
    create: async () => {
      await ensureBusyboxImage(new Docker({ socketPath: DOCKER_SOCKET }), IMAGE);
      return createDockerRuntime({
        nodeLabel: `escape-${randomBytes(4).toString("hex")}`,
        socketPath: DOCKER_SOCKET,
        onWarning: () => {},
      });
    },
    image: IMAGE,
    shell: ["sh", "-c"],
  },
  {
    name: "process (bubblewrap)",
    missing:
      bwrapMissing ??
      notRoot ??
      (HOST_BUSYBOX === undefined ? "busybox-static missing (apt-get install busybox-static)" : undefined),
    create: () => createProcessRuntime({ sandbox: "bwrap", onWarning: () => {} }),
    shell: [HOST_BUSYBOX ?? "busybox", "sh", "-c"],
  },
];

describe.each(TARGETS)("escape attempts against the $name runtime", (target) => {
  skipWhen(target.missing);
  let runtime: JobRuntime;
  const handles: JobHandle[] = [];
  const workDirs: string[] = [];

  beforeAll(async () => {
    if (target.missing !== undefined) return;
    runtime = await target.create();
  });
  afterAll(async () => {
    for (const handle of handles) {
      await handle.cancel("test cleanup").catch(() => {});
      await handle.remove().catch(() => {});
    }
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `script` as a job; returns what it printed and how it ended. */
  async function run(script: string, limits: Partial<JobLimits> = {}, prepare?: (workDir: string) => void) {
    const workDir = mkdtempSync(join(tmpdir(), "gridspot-escape-job-"));
    workDirs.push(workDir);
    prepare?.(workDir);
    const out: Buffer[] = [];
    const [command = "sh", ...args] = [...target.shell, script];
    const handle = await runtime.start({
      jobId: `escape-${randomBytes(6).toString("hex")}`,
      ...(target.image === undefined ? {} : { image: target.image }),
      command,
      args,
      env: { PORT: String(port), DATA_DIR: dataDir, DAEMON_PID: String(daemon.pid) },
      workDir,
      gpus: { indices: [], uuids: [] },
      limits: { ...LIMITS, ...limits },
      killGraceMs: 500,
      onStdout: (chunk) => out.push(chunk),
      onStderr: (chunk) => out.push(chunk),
    });
    handles.push(handle);
    const exit: JobExit = await handle.exited;
    return { text: Buffer.concat(out).toString("utf8"), exit, handle, workDir };
  }

  it("runs as an unprivileged user, never root", async () => {
    const { text, exit } = await run("id -u; id -g");
    expect(exit.exitCode).toBe(0);
    const [uid, gid] = text.trim().split("\n").map(Number);
    expect(uid).not.toBe(0);
    expect(gid).not.toBe(0);
  });

  it("cannot read the host's /etc/shadow", async () => {
    const shadow = readFileSync("/etc/shadow", "utf8").split("\n")[0] ?? "root:";
    const { text } = await run("cat /etc/shadow; echo done");
    expect(text).toContain("done");
    expect(text).not.toContain(shadow);
  });

  it("cannot see the data dir, its keystore or its ledger", async () => {
    const { text } = await run(
      'ls -la "$DATA_DIR"; cat "$DATA_DIR/keystore.json" "$DATA_DIR/provider.db"; echo done',
    );
    expect(text).toContain("done");
    expect(text).not.toContain(secret);
  });

  it("cannot read the daemon's environment through /proc", async () => {
    const { text } = await run('cat "/proc/$DAEMON_PID/environ"; cat /proc/1/environ; ls /proc; echo done');
    expect(text).toContain("done");
    expect(text).not.toContain(secret);
    // Its /proc shows its own processes only: not the daemon's pid.
    expect(text.split(/\s+/)).not.toContain(String(daemon.pid));
  });

  it("cannot reach the Docker socket", async () => {
    const { text } = await run(
      'for s in /var/run/docker.sock /run/docker.sock; do [ -e "$s" ] && echo "VISIBLE $s"; done; echo done',
    );
    expect(text).toContain("done");
    expect(text).not.toContain("VISIBLE");
  });

  it("cannot reach a service on the host's 127.0.0.1", async () => {
    const before = served;
    const { text } = await run(
      'echo hi | nc -w 2 127.0.0.1 "$PORT"; wget -q -T 2 -O - "http://127.0.0.1:$PORT/"; echo done',
    );
    expect(text).toContain("done");
    expect(text).not.toContain(secret);
    expect(served).toBe(before);
  });

  it("is killed with reason oom when it allocates past its memory", async () => {
    // tail keeps the last lines of a stream with no newline: all of it, in memory.
    const { exit } = await run("head -c 512m /dev/zero | tail > /dev/null; echo survived", { memMiB: 64 });
    expect(exit.reason).toBe("oom");
  });

  it("burns at most its cores: 4 busy loops on 1 core are throttled and billed within cores × time", async () => {
    const script =
      "for i in 1 2 3 4; do (while :; do :; done) & done; sleep 3; kill $(jobs -p) 2>/dev/null; echo done";
    const workDir = mkdtempSync(join(tmpdir(), "gridspot-escape-job-"));
    workDirs.push(workDir);
    const [command = "sh", ...args] = [...target.shell, script];
    const handle = await runtime.start({
      jobId: `escape-cpu-${randomBytes(4).toString("hex")}`,
      ...(target.image === undefined ? {} : { image: target.image }),
      command,
      args,
      env: {},
      workDir,
      gpus: { indices: [], uuids: [] },
      limits: LIMITS,
      killGraceMs: 500,
    });
    handles.push(handle);
    const meter = createJobMeter({
      jobId: "escape-cpu",
      read: () => handle.sample(),
      gpus: 1,
      cpuCores: 1,
      intervalMs: 250,
      onEvents: () => {},
    });
    meter.start();
    const exit = await handle.exited;
    const sample = await handle.sample();
    const totals = await meter.stop();
    const wallMs = exit.endedAt - exit.startedAt;
    // The kernel's own count: throttled to one core (slack for the cgroup's accounting period).
    expect(Number(sample.cpuMs)).toBeLessThanOrEqual(wallMs + 250);
    // Billed: never above cores × metered time (gpu_ms is the metered time of its 1 GPU).
    expect(totals.cpu_core_ms).toBeLessThanOrEqual(totals.gpu_ms);
  });

  it("is killed with reason pids when it forks without end", async () => {
    const { exit } = await run("bomb() { bomb | bomb & }; bomb; sleep 20", { pids: 32 });
    expect(exit.reason).toBe("pids");
  });

  it("is killed with reason disk-quota when it fills its work dir", async () => {
    const { exit, workDir } = await run(
      "for f in a b c d e f; do dd if=/dev/zero of=$f bs=1M count=16 2>/dev/null; done; sleep 20",
      { diskBytes: 32 * 1024 * 1024 },
    );
    expect(exit.reason).toBe("disk-quota");
    expect(readdirSync(workDir).length).toBeGreaterThan(0);
  });

  it("leaves no process behind, not even a setsid daemon", async () => {
    const marker = String(4000 + Math.floor(Math.random() * 5000));
    const { exit } = await run(`setsid sleep ${marker} & sleep 0.5; echo started`);
    expect(exit.exitCode).toBe(0);
    const deadline = Date.now() + 5_000;
    let left: string[] = [];
    do {
      left = readdirSync("/proc")
        .filter((p) => /^\d+$/.test(p))
        .filter((p) => {
          try {
            return readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").includes(marker);
          } catch {
            return false;
          }
        });
      if (left.length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    } while (Date.now() < deadline);
    expect(left).toEqual([]);
  });

  it("cannot make its outputs read outside the work dir: symlinked outputs are dropped and named", async () => {
    const { exit, workDir } = await run(
      "ln -s /etc/passwd leak.txt; mkdir -p out; ln -s / out/root; echo fine > out/ok.txt; echo done",
    );
    expect(exit.exitCode).toBe(0);
    const collected = await collectOutputs(workDir, ["leak.txt", "out/**"], {
      maxTotalBytes: 1 << 20,
      maxFiles: 16,
    });
    expect(collected.files.map((f) => f.path)).toEqual(["out/ok.txt"]);
    expect(collected.dropped.map((d) => d.path)).toContain("leak.txt");
  });
});

// The probes above must be able to fail: run unsandboxed (only an explicit `sandbox: "none"` does
// that), the same jobs reach what the sandboxes hide.
describe("the escape probes themselves", () => {
  skipWhen(
    notRoot ??
      (HOST_BUSYBOX === undefined ? "busybox-static missing (apt-get install busybox-static)" : undefined),
  );

  it("do reach the host's service and its /etc and /proc without a sandbox", async () => {
    const runtime = await createProcessRuntime({ sandbox: "none", onWarning: () => {} });
    const workDir = mkdtempSync(join(tmpdir(), "gridspot-escape-job-"));
    const out: Buffer[] = [];
    const before = served;
    const handle = await runtime.start({
      jobId: `escape-control-${randomBytes(4).toString("hex")}`,
      command: HOST_BUSYBOX ?? "busybox",
      args: [
        "sh",
        "-c",
        'echo hi | nc -w 2 127.0.0.1 "$PORT"; ls /proc; test -e /etc/shadow && echo SHADOW-VISIBLE',
      ],
      env: { PORT: String(port) },
      workDir,
      gpus: { indices: [], uuids: [] },
      limits: LIMITS,
      onStdout: (chunk) => out.push(chunk),
    });
    await handle.exited;
    await handle.remove();
    rmSync(workDir, { recursive: true, force: true });
    const text = Buffer.concat(out).toString("utf8");
    expect(text).toContain(secret);
    expect(served).toBeGreaterThan(before);
    expect(text).toContain("SHADOW-VISIBLE");
    expect(text.split(/\s+/)).toContain(String(daemon.pid));
  });
});
