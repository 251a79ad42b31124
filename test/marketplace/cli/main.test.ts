import { mkdtempSync, rmSync } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, describe, expect, it } from "vitest";
import { readKeystoreFile } from "../../../marketplace/wallet/keystore.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";

const PASSWORD = "a long enough password";

const homes: string[] = [];
afterAll(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

/** A fresh HOME with its data dir, and the real CLI (`node bin/gridspot.ts`) run in a clean environment there. */
function sandbox() {
  const home = mkdtempSync(join(tmpdir(), "gridspot-cli-"));
  homes.push(home);
  const dataDir = join(home, "data");
  const gridspot = (args: string[], env: Record<string, string> = {}): Promise<Run> =>
    runGridspot(args, {
      cwd: home,
      timeoutMs: 60_000,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        GRIDSPOT_DATA_DIR: dataDir,
        GRIDSPOT_LOG: "silent",
        ...env,
      },
    });
  return { home, dataDir, gridspot };
}

/** Runs the CLI in a sandbox of its own. */
const gridspot = (args: string[], env: Record<string, string> = {}) => sandbox().gridspot(args, env);

/** `--json` output is exactly one JSON document on one line. */
function oneJson(stdout: string): Record<string, unknown> {
  const lines = stdout.split("\n").filter((l) => l !== "");
  expect(lines).toHaveLength(1);
  return JSON.parse(lines[0] ?? "") as Record<string, unknown>;
}

// Each case spawns a Node process that loads the whole CLI: run them side by side.
describe.concurrent("gridspot CLI", () => {
  it("prints help and exits 0 without a command", async () => {
    const run = await gridspot([]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^Usage: gridspot \[options\] \[command\]/);
    expect(run.stdout).toContain("Exit codes:");
  });

  it("exits 2 on an unknown command, saying which", async () => {
    const run = await gridspot(["frobnicate", "now"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^gridspot: unknown command 'frobnicate'/);
    expect(run.stderr).toContain("See `gridspot --help`.");
  });

  it("exits 2 on an unknown flag", async () => {
    const run = await gridspot(["job", "list", "--frobnicate"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown option '--frobnicate'/);
    expect(run.stderr).toContain("See `gridspot job list --help`.");
    // A usage mistake gets a message, not a stack trace.
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it("with --json, prints an error as one JSON document on stdout (and the message on stderr)", async () => {
    const run = await gridspot(["frobnicate", "--json"]);
    expect(run.code).toBe(2);
    expect(oneJson(run.stdout)).toMatchObject({
      error: { name: "UsageError", message: "unknown command 'frobnicate'" },
    });
    expect(run.stderr).toMatch(/^gridspot: unknown command/);
  });

  it("exits 2 when job submit has no command after --", async () => {
    for (const args of [
      ["--cpus", "1"],
      ["--cpus", "1", "--"],
    ]) {
      const run = await gridspot(["job", "submit", ...args]);
      expect(run.code).toBe(2);
      expect(run.stderr).toMatch(/Give the job's command after --/);
    }
  });

  it.each([
    [["--gpus", "abc"], /--gpus must be a whole number, got "abc"/],
    [["--gpus=-1"], /--gpus must be a whole number, got "-1"/],
    [["--gpus", "1.5"], /--gpus must be a whole number, got "1.5"/],
    [["--gpu-class", "H100"], /--gpu-class must look like nvidia-h100-80gb, got "H100"/],
    [["--gpu-class", "nvidia-h100"], /--gpu-class must look like nvidia-h100-80gb/],
    [["--max-price-gpu-hour", "two"], /--max-price-gpu-hour must be an amount of GRID/],
    [["--cpus", "four"], /--cpus must be a whole number/],
    [["--env", "=x"], /--env takes NAME=VALUE/],
    [["--output", "../x"], /--output glob "\.\.\/x" must not contain "\.\."/],
    [["--output", "/etc/*"], /--output glob "\/etc\/\*" must be relative/],
    [["--input", "/no/such/file"], /--input: Cannot read the input \/no\/such\/file/],
    [["--max-requests", "5"], /--max-requests and --max-price-1k-requests go together/],
    [["--max-price-1k-tokens", "0.1"], /--max-tokens and --max-price-1k-tokens go together/],
    [["--max-egress-gib", "x", "--max-price-egress-gib", "1"], /--max-egress-gib must be a whole number/],
    [["--max-suspended", "soon"], /--max-suspended takes a duration like 90, 90s, 15m/],
    [["--detach", "--out-dir", "x"], /--out-dir and --redeem-wait are for jobs in the foreground/],
  ])("exits 2 on job submit %j before touching the wallet", async (flags, message) => {
    const run = await gridspot(["job", "submit", ...flags, "--", "true"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  // A bad --budget (or --bid-window, --redeem-wait) must be a usage error like the other flags; it
  // must not depend on whether a wallet, a chain and a deployment happen to be there.
  it.each([["abc"], ["-1"], ["0.1234567890123456789"]])(
    "exits 2 on job submit --budget %s",
    async (budget) => {
      const run = await gridspot(["job", "submit", `--budget=${budget}`, "--", "true"]);
      expect(run.stderr).toMatch(/--budget must be an amount of GRID/);
      expect(run.code).toBe(2);
    },
  );

  it("exits 2 on job submit --bid-window that is not a number", async () => {
    const run = await gridspot(["job", "submit", "--bid-window", "soon", "--", "true"]);
    expect(run.stderr).toMatch(/--bid-window must be a whole number/);
    expect(run.code).toBe(2);
  });

  it("exits 4 when there is no wallet, saying where it looked and how to make one", async () => {
    const { dataDir, gridspot: run } = sandbox();
    const list = await run(["job", "list"], { GRIDSPOT_PASSWORD: PASSWORD });
    expect(list.code).toBe(4);
    expect(list.stderr).toContain(`No keystore at ${join(dataDir, "keystore.json")}`);
    expect(list.stderr).toContain("gridspot wallet create");
    const json = await run(["wallet", "balance", "--json"], { GRIDSPOT_PASSWORD: PASSWORD });
    expect(json.code).toBe(4);
    expect(oneJson(json.stdout)).toMatchObject({ error: { name: "KeystoreError" } });
  });

  it("exits 4 when there is no wallet and no password either", async () => {
    const run = await gridspot(["job", "list"]);
    expect(run.code).toBe(4);
    expect(run.stderr).toMatch(/^gridspot: /);
  });

  it("exits 4 on a malformed GRIDSPOT_PRIVATE_KEY without printing it", async () => {
    const key = `0x${"ab".repeat(31)}`;
    const run = await gridspot(["job", "list"], { GRIDSPOT_PRIVATE_KEY: key });
    expect(run.code).toBe(4);
    expect(run.stderr + run.stdout).not.toContain("abababab");
  });

  it("wallet create makes an encrypted 0600 keystore, and refuses to overwrite it", async () => {
    const { dataDir, gridspot } = sandbox();
    const run = await gridspot(["wallet", "create", "--json"], { GRIDSPOT_PASSWORD: PASSWORD });
    expect(run.code).toBe(0);
    const created = oneJson(run.stdout) as { address: string; keystore: string };
    const path = join(dataDir, "keystore.json");
    expect(created.keystore).toBe(path);
    expect(created.address).toMatch(/^0x[0-9a-fA-F]{40}$/);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const key = await readKeystoreFile(path, PASSWORD);
    expect(run.stdout + run.stderr).not.toContain(key.slice(2));
    expect(privateKeyToAddress(key)).toBe(created.address);

    const before = await readFile(path, "utf8");
    const again = await gridspot(["wallet", "create"], { GRIDSPOT_PASSWORD: PASSWORD });
    expect(again.code).toBe(4);
    expect(again.stderr).toContain(`A keystore already exists at ${path}`);
    expect(await readFile(path, "utf8")).toBe(before);
  });

  it("wallet create refuses a missing or short password", async () => {
    for (const env of [{}, { GRIDSPOT_PASSWORD: "short" }]) {
      const run = await gridspot(["wallet", "create"], env);
      expect(run.code).toBe(4);
      expect(run.stderr).toMatch(/Set GRIDSPOT_PASSWORD \(at least 8 characters\)/);
    }
  });

  // Everything after `--` is the job's own command line: a `--json` there is an argument of the
  // job, not a request for JSON output from gridspot.
  it("does not take a --json after -- as its own", async () => {
    const run = await gridspot(["job", "submit", "--gpus", "x", "--", "tool", "--json"]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/--gpus must be a whole number/);
  });
});
