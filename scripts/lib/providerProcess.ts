import { type ChildProcess, spawn } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { createInterface } from "node:readline";
import type { Hex } from "viem";
import { probeBwrap } from "../../node/run/process/probeBwrap.ts";

const root = join(import.meta.dirname, "..", "..");
/** The fake nvidia-smi (recorded real outputs): this machine and CI have no GPU. */
export const FAKE_GPU_BIN = join(root, "test", "fixtures", "bin");

export type ProviderProcessParameters = {
  dataDir: string;
  privateKey: Hex;
  rpcUrl: string;
  deploymentsDir: string;
  /** FAKE_NVIDIA_SMI_PROFILE: h100x2, rtx4090, a100x8, t4; undefined = no GPU (CPU only). */
  gpuProfile?: string | undefined;
  bootstrap?: string[];
  /** Extra provider config (merged into the file; its `runtime` merged into the default one). */
  config?: Record<string, unknown>;
  /** Where the node's stderr goes: inherited by default. */
  stderr?: "inherit" | "ignore" | "pipe";
  startupTimeoutMs?: number;
};

export type ProviderInfo = {
  address: Hex;
  peerId: string;
  multiaddrs: string[];
  api: string | null;
  chainId: number;
};

export type ProviderProcess = {
  info: ProviderInfo;
  child: ChildProcess;
  /** SIGTERM and wait (a graceful stop), or another signal (SIGKILL for crash tests). */
  stop(signal?: NodeJS.Signals): Promise<void>;
};

/**
 * The runtime of test and demo providers unless they say otherwise: plain-command jobs in the process
 * runtime, sandboxed where bubblewrap works. Where it does not (a fresh machine without it), the
 * sandbox is switched off explicitly, as an operator would have to: the jobs are the harness's own.
 */
export async function defaultRuntime(): Promise<{ kind: "process"; sandbox: "auto" | "none" }> {
  return { kind: "process", sandbox: (await probeBwrap()).available ? "auto" : "none" };
}

/**
 * Starts `gridspot provider start` as a separate process, the way an operator runs it, and waits
 * for the JSON line it prints once it listens.
 */
export async function startProviderProcess(p: ProviderProcessParameters): Promise<ProviderProcess> {
  await mkdir(p.dataDir, { recursive: true });
  const configPath = join(p.dataDir, "config.json");
  const { runtime, ...rest } = p.config ?? {};
  const config = {
    dataDir: p.dataDir,
    rpcUrl: p.rpcUrl,
    deploymentsDir: p.deploymentsDir,
    p2p: { listen: ["/ip4/127.0.0.1/tcp/0"], bootstrap: p.bootstrap ?? [], localNetwork: true },
    api: { port: 0 },
    runtime: {
      ...(await defaultRuntime()),
      ...(p.gpuProfile === undefined ? { nvidiaSmi: join(p.dataDir, "no-nvidia-smi") } : {}),
      ...(runtime as Record<string, unknown> | undefined),
    },
    ...rest,
  };
  await writeFile(configPath, JSON.stringify(config, null, 2));
  const child = spawn(
    process.execPath,
    [join(root, "bin", "gridspot.ts"), "provider", "start", "--json", "--config", configPath],
    {
      cwd: root,
      env: {
        ...process.env,
        GRIDSPOT_PRIVATE_KEY: p.privateKey,
        PATH: `${FAKE_GPU_BIN}${delimiter}${process.env.PATH ?? ""}`,
        ...(p.gpuProfile === undefined ? {} : { FAKE_NVIDIA_SMI_PROFILE: p.gpuProfile }),
        GRIDSPOT_LOG: process.env.GRIDSPOT_LOG ?? "warn",
      },
      stdio: ["ignore", "pipe", p.stderr ?? "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const info = await new Promise<ProviderInfo>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("provider did not start in time"));
    }, p.startupTimeoutMs ?? 60_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as ProviderInfo);
      } catch {
        reject(new Error(`provider printed ${line}`));
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`provider exited with ${code} before it started`));
    });
  });
  return {
    info,
    child,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
