import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:net";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startProcessJob } from "../../../node/run/startProcessJob.ts";
import type { ProcessJobHandle } from "../../../node/run/types.ts";
import { NODE, reap, textSink } from "./helpers.ts";

let handle: ProcessJobHandle | undefined;
afterEach(async () => {
  await reap(handle);
  if (handle !== undefined) rmSync(handle.workDir, { recursive: true, force: true });
  handle = undefined;
});

let server: Server;
let port = 0;
let connections = 0;
beforeAll(async () => {
  server = createServer((socket) => {
    connections++;
    socket.on("error", () => {}); // the client exits right after connecting
    socket.end("hello\n");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});
afterAll(() => server.close());

/** Runs a job and returns its stdout. */
async function run(sandbox: "none" | "bwrap", command: string, args: string[], extra: object = {}) {
  const out = textSink();
  handle = await startProcessJob({
    command,
    args,
    sandbox,
    maxDurationMs: 10_000,
    onWarning: () => {},
    ...out,
    ...extra,
  });
  const exit = await handle.exited;
  return { stdout: out.text(), exit };
}

const connect = () =>
  `require("node:net").connect(${port}, "127.0.0.1")` +
  `.on("connect", () => { console.log("connected"); process.exit(0); })` +
  `.on("error", (e) => { console.log("error " + e.code); process.exit(3); })`;

describe("bubblewrap sandbox", () => {
  it("has no network: a server on the host's 127.0.0.1 is unreachable", async () => {
    const before = connections;
    const { stdout, exit } = await run("bwrap", NODE, ["-e", connect()]);
    expect(stdout).toMatch(/^error E[A-Z]+\n$/);
    expect(exit.exitCode).toBe(3);
    expect(connections).toBe(before);
  });

  it("(control) the same job reaches the server without a sandbox", async () => {
    const before = connections;
    const { stdout } = await run("none", NODE, ["-e", connect()]);
    expect(stdout).toBe("connected\n");
    expect(connections).toBe(before + 1);
  });

  it("sees the host read-only, with a private /tmp and a writable work dir", async () => {
    const marker = `gridspot-sandbox-${process.pid}-${Date.now()}`;
    const script = [
      `touch /usr/${marker} 2>/dev/null && echo usr-writable || echo usr-readonly`,
      `touch /tmp/${marker} && echo tmp-writable`,
      "echo data > out.txt && echo workdir-writable",
      // Mount points show in /tmp when they live there: the work dir, and the daemon's node binary
      // (bound back so jobs can run it) when the checkout is under /tmp.
      `ls -A /tmp | grep -v '^gridspot-job-' | grep -vx '${keptTopDir()}'`,
    ].join("; ");
    const { stdout } = await run("bwrap", "sh", ["-c", script]);
    expect(stdout).toBe(`usr-readonly\ntmp-writable\nworkdir-writable\n${marker}\n`);
    expect(readdirSync(tmpdir())).not.toContain(marker);
  });

  it("hides the given folders and, by default, the daemon's home", async () => {
    // Not under /tmp: the sandbox's private /tmp would hide it anyway.
    const secrets = mkdtempSync(join("/var/tmp", "gridspot-secrets-"));
    writeFileSync(join(secrets, "key.json"), "{}");
    const homeMarker = join(homedir(), `.gridspot-sandbox-test-${process.pid}`);
    writeFileSync(homeMarker, "x");
    try {
      const hidden = await run("bwrap", "sh", ["-c", `ls -A ${secrets} | wc -l`], {
        hidePaths: [secrets, "/nonexistent/folder"],
      });
      expect(hidden.stdout.trim()).toBe("0");
      const home = await run("bwrap", "sh", ["-c", `test -e ${homeMarker} && echo visible || echo hidden`]);
      expect(home.stdout).toBe("hidden\n");
      // Control: without hiding, both are visible.
      const shown = await run(
        "bwrap",
        "sh",
        ["-c", `ls -A ${secrets}; test -e ${homeMarker} && echo visible`],
        {
          hidePaths: [],
        },
      );
      expect(shown.stdout).toBe("key.json\nvisible\n");
    } finally {
      rmSync(secrets, { recursive: true, force: true });
      rmSync(homeMarker, { force: true });
    }
  });

  it("runs a job whose work dir lies inside a hidden folder", async () => {
    const dataDir = mkdtempSync(join("/var/tmp", "gridspot-data-"));
    writeFileSync(join(dataDir, "keystore.json"), "{}");
    mkdirSync(join(dataDir, "jobs"));
    try {
      const { stdout, exit } = await run(
        "bwrap",
        "sh",
        ["-c", `ls -A ${dataDir}; echo ok > out.txt; cat out.txt`],
        {
          hidePaths: [dataDir],
          workRoot: join(dataDir, "jobs"),
        },
      );
      expect(exit.exitCode).toBe(0);
      expect(stdout).toBe("jobs\nok\n"); // only the path down to the work dir, no keystore
      expect(readFileSync(join(handle?.workDir ?? "", "out.txt"), "utf8")).toBe("ok\n");
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("runs the job in its own pid namespace", async () => {
    const { stdout } = await run("bwrap", "sh", ["-c", "echo $$; ls /proc | grep -c '^[0-9]'"]);
    const [pid, count] = stdout.trim().split("\n").map(Number);
    expect(pid).toBeLessThan(10);
    expect(count).toBeLessThan(10);
  });
});

/** The top folder under /tmp of the node binary the sandbox binds back, or a name that never matches. */
function keptTopDir(): string {
  const node = realpathSync(process.execPath);
  return node.startsWith("/tmp/") ? (node.split("/")[2] ?? "") : "//none//";
}
