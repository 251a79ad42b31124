import { request } from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createProcessReplicaLauncher } from "../../../node/endpoint/createProcessReplicaLauncher.ts";
import { createReplicaSet, type ReplicaSet } from "../../../node/endpoint/createReplicaSet.ts";
import { EndpointError } from "../../../node/endpoint/errors.ts";
import type { ReplicaLease } from "../../../node/endpoint/types.ts";

const MODEL_SERVER = fileURLToPath(new URL("../../../scripts/lib/modelServer.ts", import.meta.url));
const modelServer = () =>
  createProcessReplicaLauncher({
    command: process.execPath,
    args: [MODEL_SERVER, "--port", "{port}", "--host", "127.0.0.1"],
  });

const sets: ReplicaSet[] = [];
afterEach(async () => {
  await Promise.all(sets.splice(0).map((set) => set.stop()));
});

function track(set: ReplicaSet): ReplicaSet {
  sets.push(set);
  return set;
}

/** GET /health on the leased replica, through its keep-alive agent. */
function health(lease: ReplicaLease): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ ...lease.address, path: "/health", agent: lease.agent }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    })
      .on("error", reject)
      .end();
  });
}

async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe("createReplicaSet", () => {
  it("scales to zero after the idle timeout, and the next request waits for a cold start", async () => {
    const set = track(
      createReplicaSet(
        { launcher: modelServer() },
        { endpointId: "ep-zero", min: 0, max: 1, idleTimeoutMs: 300, coldStartTimeoutMs: 10_000 },
      ),
    );
    set.start();
    expect(set.status().replicas).toEqual([]);
    const started = Date.now();
    const first = await set.acquire();
    expect(await health(first)).toBe(200);
    first.release();
    const coldMs = Date.now() - started;
    expect(coldMs).toBeLessThan(5_000);
    // Idle past the timeout: the replica stops, and nothing runs.
    await waitFor(() => set.status().replicas.length === 0, 5_000, "scale to zero");
    const again = await set.acquire();
    expect(again.replicaId).not.toBe(first.replicaId);
    expect(await health(again)).toBe(200);
    again.release();
  });

  it("keeps min replicas however idle", async () => {
    const set = track(
      createReplicaSet(
        { launcher: modelServer() },
        { endpointId: "ep-min", min: 1, max: 2, idleTimeoutMs: 100 },
      ),
    );
    set.start();
    await waitFor(() => set.status().replicas.some((r) => r.state === "ready"), 10_000, "a ready replica");
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(set.status().replicas.map((r) => r.state)).toEqual(["ready"]);
  });

  it("balances requests over replicas by requests in flight, and scales up by load", async () => {
    const set = track(
      createReplicaSet(
        { launcher: modelServer() },
        { endpointId: "ep-two", min: 0, max: 2, concurrency: 1, idleTimeoutMs: 60_000 },
      ),
    );
    set.start();
    // Two requests at once with one slot per replica: the second queues and brings up a second replica.
    const [a, b] = await Promise.all([set.acquire(), set.acquire()]);
    expect(a.replicaId).not.toBe(b.replicaId);
    expect(set.status().replicas.map((r) => r.inFlight)).toEqual([1, 1]);
    // Freed, the next two go one to each, never both to one.
    a.release();
    b.release();
    const [c, d] = await Promise.all([set.acquire(), set.acquire()]);
    expect(new Set([c.replicaId, d.replicaId]).size).toBe(2);
    // A third waits for a free slot: it gets the one released first.
    const third = set.acquire();
    d.release();
    expect((await third).replicaId).toBe(d.replicaId);
    c.release();
  });

  it("answers a request with 503 in words when no replica is ready within the cold-start timeout", async () => {
    // A replica that runs but never answers its health check.
    const launcher = createProcessReplicaLauncher({
      command: process.execPath,
      args: ["-e", "setInterval(() => {}, 1000)"],
    });
    const set = track(
      createReplicaSet(
        { launcher },
        { endpointId: "ep-slow", min: 0, max: 1, coldStartTimeoutMs: 800, startTimeoutMs: 30_000 },
      ),
    );
    const started = Date.now();
    const error = await set.acquire().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(EndpointError);
    expect((error as EndpointError).status).toBe(503);
    expect((error as EndpointError).code).toBe("cold-start-timeout");
    expect((error as EndpointError).shortMessage).toBe(
      "no replica of endpoint ep-slow became ready within 0.8 s (cold start)",
    );
  });

  it("fails waiting requests at once, in words, when the replica cannot start", async () => {
    const launcher = createProcessReplicaLauncher({
      command: process.execPath,
      args: ["-e", "console.error('model file missing'); process.exit(3)"],
    });
    const set = track(
      createReplicaSet({ launcher }, { endpointId: "ep-broken", min: 0, max: 1, coldStartTimeoutMs: 20_000 }),
    );
    const started = Date.now();
    const error = (await set.acquire().catch((e: unknown) => e)) as EndpointError;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(error.code).toBe("replica-failed");
    expect(error.shortMessage).toMatch(
      /^endpoint ep-broken: replica ep-broken-r1 failed to start: it stopped before passing its health check: it exited with code 3: model file missing$/,
    );
    expect(set.status().lastError).toMatch(/exited with code 3/);
  });

  it("replaces a replica that exits, and fails what waits once stopped", async () => {
    const set = track(
      createReplicaSet({ launcher: modelServer() }, { endpointId: "ep-crash", min: 1, max: 1 }),
    );
    set.start();
    await waitFor(() => set.status().replicas.some((r) => r.state === "ready"), 10_000, "a ready replica");
    const lease = await set.acquire();
    const crashed = lease.replicaId;
    lease.release();
    // Kill the model server under the set's feet: it is replaced to keep min.
    await new Promise<void>((resolve) => {
      request({ ...lease.address, path: "/health", method: "GET", agent: false }, (res) => {
        const pid = Number(String(res.headers["x-replica"]).split(":")[0]);
        res.resume();
        process.kill(pid, "SIGKILL");
        resolve();
      }).end();
    });
    await waitFor(
      () => set.status().replicas.some((r) => r.state === "ready" && r.id !== crashed),
      10_000,
      "a replacement replica",
    );
    expect(set.status().lastError).toMatch(/was killed by SIGKILL/);
    await set.stop();
    const error = (await set.acquire().catch((e: unknown) => e)) as EndpointError;
    expect(error.code).toBe("no-replica");
    expect(error.shortMessage).toBe("endpoint ep-crash is stopping");
  });
});
