import { bwrapMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(bwrapMissing);

import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createProcessRuntime } from "../../../../node/run/process/createProcessRuntime.ts";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { cgroupsMissing, hostUid, jobStarter, NODE, runToEnd, textSink, waitFor } from "./helpers.ts";

const MARKER = `gridspot-daemon-marker-${process.pid}`;
process.env.GRIDSPOT_SANDBOX_MARKER = MARKER;

let runtime: JobRuntime;
let server: Server;
let port = 0;
let connections = 0;
/** A Unix socket under /run, like /run/docker.sock: a read-only bind would not stop connect(). */
let socketPath = "";
let socketServer: Server;
beforeAll(async () => {
  if (bwrapMissing) return;
  runtime = await createProcessRuntime({ sandbox: "bwrap", onWarning: () => {} });
  server = createServer((socket) => {
    connections++;
    socket.on("error", () => {}); // the client exits right after connecting
    socket.end("hello\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
  socketPath = join(process.getuid?.() === 0 ? "/run" : tmpdir(), `gridspot-test-${process.pid}.sock`);
  socketServer = createServer((socket) => {
    connections++;
    socket.end("hello\n");
  });
  await new Promise<void>((resolve) => socketServer.listen(socketPath, resolve));
});
afterAll(() => {
  server?.close();
  socketServer?.close();
});

const start = jobStarter(() => runtime);

/** Node code that connects, prints "connected" or "error <code>" and exits 0 or 3. */
const connect = (target: string) =>
  `require("node:net").connect(${target})` +
  `.on("connect", () => { console.log("connected"); process.exit(0); })` +
  `.on("error", (e) => { console.log("error " + e.code); process.exit(3); })`;

describe("bubblewrap sandbox", () => {
  it("describes itself", () => {
    expect(runtime.status()).toMatchObject({
      kind: "process",
      description: expect.stringMatching(/^bwrap \d/),
    });
  });

  it("runs the job as an unprivileged uid, neither root nor the daemon's, inside and on the host", async () => {
    const out = textSink();
    const handle = await start("sh", ["-c", "id -u; id -g; id -un; echo ready; sleep 100"], out);
    expect(await waitFor(() => out.text().includes("ready"))).toBe(true);
    const [uid, gid, name] = out.text().split("\n");
    expect(uid).toBe("65534");
    expect(gid).toBe("65534");
    expect(name).toBe("nobody");
    const daemonUid = process.getuid?.();
    const uids =
      (await handle.sample()).hostPids.length > 0 ? (await handle.sample()).hostPids : [Number(handle.id)];
    for (const pid of uids) {
      const owner = hostUid(pid);
      expect(owner).not.toBe(0);
      if (daemonUid === 0) expect(owner).toBe(65534);
    }
    await handle.cancel();
  });

  it("hides the host's secrets, homes, /run and the daemon's data dir", async () => {
    const dataDir = mkdtempSync(join("/var/tmp", "gridspot-data-"));
    writeFileSync(join(dataDir, "keystore.json"), "{}");
    mkdirSync(join(dataDir, "jobs", "job-1"), { recursive: true });
    try {
      const script = [
        "for p in /etc/shadow /root /home /run /var/run /var/run/docker.sock /run/docker.sock /sys; do",
        '  if [ -e "$p" ]; then (cat "$p" >/dev/null 2>&1 || ls "$p" >/dev/null 2>&1) && echo "visible $p"; fi',
        "done",
        `ls -A ${dataDir}`,
        `test -e ${dataDir}/keystore.json && echo keystore-visible`,
        "ls -A /",
        "echo end",
      ].join("\n");
      const { stdout, exit } = await runToEnd(start, "sh", ["-c", script], {
        workDir: realpathSync(join(dataDir, "jobs", "job-1")),
      });
      expect({ exitCode: exit.exitCode, stdout }).toMatchObject({ exitCode: 0 });
      const lines = stdout.trim().split("\n");
      expect(lines.filter((l) => l.startsWith("visible"))).toEqual([]);
      expect(lines).not.toContain("keystore-visible");
      expect(lines[0]).toBe("jobs"); // only the path down to the work dir
      const root = lines.slice(1, -1);
      const allowed = [
        "bin",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "proc",
        "sbin",
        "tmp",
        "usr",
        "var",
      ];
      allowed.push(realpathSync(NODE).split("/")[1] ?? "");
      expect(root.filter((entry) => !allowed.includes(entry))).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("has no network: a server on the host's 127.0.0.1 is unreachable", async () => {
    const before = connections;
    const { stdout, exit } = await runToEnd(start, NODE, ["-e", connect(`${port}, "127.0.0.1"`)]);
    expect(stdout).toMatch(/^error E[A-Z]+\n$/);
    expect(exit.exitCode).toBe(3);
    expect(connections).toBe(before);
  });

  it("cannot connect to a Unix socket of the host", async () => {
    const before = connections;
    const { stdout } = await runToEnd(start, NODE, ["-e", connect(JSON.stringify(socketPath))]);
    expect(stdout).toMatch(/^error E[A-Z]+\n$/);
    expect(connections).toBe(before);
  });

  it("sees no daemon process: own pid namespace, and /proc/1 is not the daemon", async () => {
    const script = [
      "echo $$",
      "ls /proc | grep -c '^[0-9]'",
      `test -e /proc/${process.pid} && echo daemon-pid-visible`,
      `cat /proc/1/environ /proc/$PPID/environ 2>/dev/null | tr '\\0' '\\n' | grep -c ${MARKER}`,
    ].join("; ");
    const { stdout } = await runToEnd(start, "sh", ["-c", script]);
    const [pid, count, ...rest] = stdout.trim().split("\n");
    expect(Number(pid)).toBeLessThan(10);
    expect(Number(count)).toBeLessThan(10);
    expect(rest).toEqual(["0"]);
  });

  it("has a read-only root and /usr, a private /tmp and a writable work dir", async () => {
    const marker = `gridspot-sandbox-${process.pid}-${Date.now()}`;
    const script = [
      `touch /usr/${marker} 2>/dev/null && echo usr-writable || echo usr-readonly`,
      `touch /${marker} 2>/dev/null && echo root-writable || echo root-readonly`,
      `touch /etc/${marker} 2>/dev/null && echo etc-writable || echo etc-readonly`,
      `touch /tmp/${marker} && echo tmp-writable`,
      "echo data > out.txt && echo workdir-writable",
    ].join("; ");
    const { stdout } = await runToEnd(start, "sh", ["-c", script]);
    expect(stdout).toBe("usr-readonly\nroot-readonly\netc-readonly\ntmp-writable\nworkdir-writable\n");
    expect(readdirSync(tmpdir())).not.toContain(marker);
  });

  it("shows a GPU job only the NVIDIA devices it was assigned", async () => {
    const { stdout, exit } = await runToEnd(start, "sh", ["-c", "ls /dev | grep -c nvidia; true"], {
      gpus: { indices: [0], uuids: [] },
    });
    expect(exit.exitCode).toBe(0);
    const expected = readdirSync("/dev").filter((d) => /^nvidia(\d+|ctl|-uvm|-uvm-tools|-modeset)$/.test(d));
    expect(Number(stdout.trim())).toBeLessThanOrEqual(expected.length);
  });

  it("with a cgroup, the job cannot see or leave it", async (context) => {
    if (cgroupsMissing !== undefined) return context.skip(cgroupsMissing);
    const { stdout } = await runToEnd(start, "sh", [
      "-c",
      "cat /proc/self/cgroup | grep -c gridspot; echo $$ > /sys/fs/cgroup/pids/cgroup.procs 2>/dev/null && echo escaped",
    ]);
    expect(stdout).toBe("0\n");
  });
});
