// Starts `anvil` (from the @foundry-rs/anvil npm package, never a global install) as a separate
// process on 127.0.0.1, for the demo, integration tests and benchmarks.
//
// anvil runs under a small /bin/sh watchdog that holds the read end of a pipe from this process:
// when this process ends in any way (even SIGKILL) the pipe closes, the watchdog's `read` returns
// and it kills anvil and removes its temporary folder, so no chain outlives the process that
// started it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Hex } from "viem";
import { BaseError } from "../../marketplace/errors/base.ts";

/** How long anvil may take to listen and answer `eth_chainId`. */
export const DEFAULT_STARTUP_TIMEOUT_MS = 20_000;
/** How long `stop()` waits for anvil to exit before killing it outright. */
const STOP_TIMEOUT_MS = 5_000;
/** Output kept for error messages. */
const OUTPUT_TAIL_CHARS = 4_000;

export type StartLocalChainParameters = {
  /** TCP port on 127.0.0.1; by default a free one the OS picks. */
  port?: number | undefined;
  /** Seconds between blocks; by default every transaction is mined at once (automine). */
  blockTime?: number | undefined;
  /** Funded dev accounts (anvil's well-known test mnemonic); default 10. */
  accounts?: number | undefined;
  /** Chain id; default 31337. */
  chainId?: number | undefined;
  /** EVM hardfork, e.g. `osaka`; default anvil's latest. Pin it where gas figures must not drift. */
  hardfork?: string | undefined;
  /** More anvil flags, e.g. `["--steps-tracing"]` for opcode-level traces. */
  extraArgs?: readonly string[] | undefined;
  /** Bound on startup, in milliseconds. */
  startupTimeoutMs?: number | undefined;
};

export type LocalChain = {
  rpcUrl: string;
  chainId: number;
  /** The dev accounts' private keys, funded with 10,000 ETH each. Test keys: never use them elsewhere. */
  privateKeys: Hex[];
  /** Kills anvil and waits until it has exited. Safe to call twice. */
  stop(): Promise<void>;
};

/** anvil did not start, or stopped answering. */
export class LocalChainError extends BaseError {
  override name = "LocalChainError";
}

// `read` gets the pipe through fd 3: a background job's stdin is /dev/null in a non-interactive sh.
const WATCHDOG = `exec 3<&0
"$@" 3<&- </dev/null &
anvil=$!
( read -r _ <&3; kill "$anvil" 2>/dev/null ) &
watcher=$!
wait "$anvil"
status=$?
kill "$watcher" 2>/dev/null
rm -rf "$GRIDSPOT_ANVIL_DIR"
exit "$status"`;

/** Starts anvil and resolves once it answers `eth_chainId`. */
export async function startLocalChain(parameters: StartLocalChainParameters = {}): Promise<LocalChain> {
  const { port = 0, blockTime, accounts = 10, chainId, hardfork } = parameters;
  const startupTimeoutMs = parameters.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
  const dir = await mkdtemp(join(tmpdir(), "gridspot-anvil-"));
  const configFile = join(dir, "anvil.json");
  const args = ["--host", "127.0.0.1", "--port", String(port), "--accounts", String(accounts)];
  args.push("--config-out", configFile);
  if (blockTime !== undefined) args.push("--block-time", String(blockTime));
  if (chainId !== undefined) args.push("--chain-id", String(chainId));
  if (hardfork !== undefined) args.push("--hardfork", hardfork);
  args.push(...(parameters.extraArgs ?? []));

  // Its own process group, so that a last-resort kill reaches the watchdog and anvil together.
  const child = spawn("/bin/sh", ["-c", WATCHDOG, "gridspot-anvil", anvilBinary(), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
    // The watchdog removes the config folder itself, which covers a parent that was killed.
    env: { ...process.env, GRIDSPOT_ANVIL_DIR: dir },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-OUTPUT_TAIL_CHARS);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  // Writing to the pipe after the watchdog exited raises EPIPE; nothing is ever written.
  child.stdin?.on("error", () => {});
  const killOnExit = () => killGroup(child);
  process.once("exit", killOnExit);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.off("exit", killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin?.end();
      const timer = setTimeout(() => killGroup(child), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + startupTimeoutMs;
    const boundPort = await waitForListeningPort(child, () => output, deadline);
    const rpcUrl = `http://127.0.0.1:${boundPort}`;
    const answeredChainId = await waitForChainId(child, rpcUrl, () => output, deadline);
    const config = JSON.parse(await readFile(configFile, "utf8")) as { private_keys?: unknown };
    if (!Array.isArray(config.private_keys)) throw new LocalChainError("anvil wrote no private keys.");
    return { rpcUrl, chainId: answeredChainId, privateKeys: config.private_keys as Hex[], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The platform binary that @foundry-rs/anvil depends on, found through the package itself. */
function anvilBinary(): string {
  const arch = process.arch === "x64" ? "amd64" : process.arch;
  const platformPackage = `@foundry-rs/anvil-${process.platform}-${arch}`;
  const binary = process.platform === "win32" ? "anvil.exe" : "anvil";
  try {
    const fromProject = createRequire(import.meta.url);
    const fromAnvil = createRequire(fromProject.resolve("@foundry-rs/anvil/package.json"));
    return fromAnvil.resolve(`${platformPackage}/bin/${binary}`);
  } catch (error) {
    throw new LocalChainError(`Cannot find the anvil binary (${platformPackage}).`, {
      metaMessages: ["Install the dependencies with `npm ci` (the @foundry-rs/anvil devDependency)."],
      cause: error,
    });
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, "SIGKILL");
  } catch {
    // Already gone.
  }
}

function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/** anvil prints `Listening on 127.0.0.1:<port>` once bound; with port 0 that is the only way to learn it. */
async function waitForListeningPort(child: ChildProcess, output: () => string, deadline: number) {
  while (Date.now() < deadline) {
    const match = /Listening on 127\.0\.0\.1:(\d+)/.exec(output());
    if (match?.[1] !== undefined) return Number(match[1]);
    if (hasExited(child)) throw startupFailure("anvil exited during startup.", output());
    await sleep(25);
  }
  throw startupFailure("anvil did not start listening in time.", output());
}

async function waitForChainId(child: ChildProcess, rpcUrl: string, output: () => string, deadline: number) {
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (hasExited(child)) throw startupFailure("anvil exited during startup.", output());
    try {
      const response = await fetch(rpcUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
        signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
      });
      const body = (await response.json()) as { result?: unknown };
      if (typeof body.result === "string") return Number.parseInt(body.result, 16);
      lastError = new Error(`unexpected answer ${JSON.stringify(body)}`);
    } catch (error) {
      lastError = error;
    }
    await sleep(50);
  }
  throw startupFailure("anvil did not answer eth_chainId in time.", output(), lastError);
}

function startupFailure(message: string, output: string, cause?: unknown): LocalChainError {
  const tail = output.trim().split("\n").slice(-10).join("\n");
  return new LocalChainError(message, { details: tail === "" ? undefined : tail, cause });
}
