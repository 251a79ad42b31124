import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { REPLICA_STOP_GRACE_MS } from "./constants.ts";
import { EndpointError } from "./errors.ts";
import type { ReplicaInstance, ReplicaLauncher } from "./types.ts";

export type CreateProcessReplicaLauncherParameters = {
  /** The program to run (a path, or a name on the PATH). */
  command: string;
  /** Its arguments; `{port}` in any of them becomes the port picked for the replica. */
  args?: readonly string[] | undefined;
  /** Variables added to the provider's own environment; PORT is set to the replica's port. */
  env?: Readonly<Record<string, string>> | undefined;
  cwd?: string | undefined;
  /** Default REPLICA_STOP_GRACE_MS. */
  stopGraceMs?: number | undefined;
  /** Told each line the replica writes to stderr (default: kept only for the exit words). */
  onStderr?: ((replicaId: string, line: string) => void) | undefined;
};

/** Bytes of a replica's stderr kept to explain how it exited. */
const STDERR_TAIL_BYTES = 2_048;

/**
 * Replicas as plain processes on this machine, listening on 127.0.0.1 at a port picked for each
 * (given as `PORT` and in place of `{port}` in the arguments).
 *
 * For development, tests and the benchmark only: there is NO isolation. The process runs as the
 * provider's own user with its environment and files, and any local process can reach its port.
 * A provider serving strangers' images uses the Docker launcher (`createDockerReplicaLauncher`),
 * where the replica's port is on a network of its own that only the provider reaches. Replicas stop
 * with their set (`ReplicaSet.stop`); a provider killed outright leaves them running.
 */
export function createProcessReplicaLauncher(
  parameters: CreateProcessReplicaLauncherParameters,
): ReplicaLauncher {
  const graceMs = parameters.stopGraceMs ?? REPLICA_STOP_GRACE_MS;
  return {
    kind: "process",
    async start({ replicaId, signal }) {
      signal.throwIfAborted();
      const port = await freePort();
      const args = (parameters.args ?? []).map((arg) => arg.replaceAll("{port}", String(port)));
      const child = spawn(parameters.command, args, {
        cwd: parameters.cwd,
        env: { ...process.env, ...parameters.env, PORT: String(port) },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderrTail = "";
      let partial = "";
      child.stderr?.setEncoding("utf8").on("data", (text: string) => {
        stderrTail = (stderrTail + text).slice(-STDERR_TAIL_BYTES);
        if (parameters.onStderr === undefined) return;
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) parameters.onStderr(replicaId, line);
      });
      const exited = new Promise<string>((resolve) => {
        child.once("error", (error) =>
          resolve(`could not start (${(error as NodeJS.ErrnoException).code ?? error.message})`),
        );
        child.once("exit", (code, exitSignal) => {
          const how = exitSignal !== null ? `was killed by ${exitSignal}` : `exited with code ${code}`;
          const tail = stderrTail.trim().split("\n").slice(-3).join(" | ");
          resolve(tail === "" ? how : `${how}: ${tail}`);
        });
      });
      // A spawn that fails (no such program) reports on the next turns: wait for the pid or the error.
      const started = await Promise.race([
        new Promise<boolean>((resolve) => child.once("spawn", () => resolve(true))),
        exited.then(() => false),
      ]);
      if (!started) {
        throw new EndpointError(
          "replica-failed",
          503,
          `replica ${replicaId} (${parameters.command}) ${await exited}`,
        );
      }
      let stopping: Promise<void> | undefined;
      const instance: ReplicaInstance = {
        id: replicaId,
        address: { host: "127.0.0.1", port },
        exited,
        stop() {
          stopping ??= (async () => {
            if (child.exitCode !== null || child.signalCode !== null) return;
            child.kill("SIGTERM");
            const kill = setTimeout(() => child.kill("SIGKILL"), graceMs);
            await exited;
            clearTimeout(kill);
          })();
          return stopping;
        },
      };
      return instance;
    },
  };
}

/** A TCP port free on 127.0.0.1 now (the OS picks it; the replica binds it right after). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
