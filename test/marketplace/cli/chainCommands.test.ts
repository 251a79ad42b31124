// The real `gridspot` executable against a real chain (anvil, one per file): help that never acts,
// the errors of issue 11 §3 in words, and the on-chain effects of the wallet, channel and provider
// commands.
import { mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { generateKeyPair } from "@libp2p/crypto/keys";
import { peerIdFromPrivateKey } from "@libp2p/peer-id";
import { type Address, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  computeEscrowAbi,
  computeTokenAbi,
  providerRegistryAbi,
} from "../../../marketplace/chain/artifacts.generated.ts";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { writeDeployment } from "../../../marketplace/chain/deployments.ts";
import { buildProgram, listCommands } from "../../../marketplace/cli/program.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";
import { type Run, runGridspot } from "../../support/runGridspot.ts";

const ROOT = resolve(import.meta.dirname, "../../..");
const GRID = 10n ** 18n;
const CHALLENGE_S = 3600;

let chain: LocalChain;
let deployer: WalletChainClients;
let deployment: Deployment;
let work: string;
let deploymentsDir: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "gridspot-cli-chain-"));
  chain = await startLocalChain({ accounts: 1 });
  deployer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: chain.privateKeys[0] as Hex });
  deployment = await deployGridspot(deployer, {
    token: { faucet: true },
    escrow: { challengePeriodS: CHALLENGE_S, feeBps: 100 },
  });
  deploymentsDir = join(work, "deployments");
  await writeDeployment(deploymentsDir, deployment);
}, 60_000);

afterAll(async () => {
  await chain?.stop();
  await rm(work, { recursive: true, force: true });
});

const wait = async (hash: Hex) => {
  const receipt = await deployer.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`${hash} reverted`);
};

/** A fresh account with `eth` ETH and `grid` GRID; one at a time (the deployer's nonces). */
let funding: Promise<unknown> = Promise.resolve();
function account(eth: bigint, grid: bigint): Promise<{ key: Hex; address: Address }> {
  const next = funding.then(() => fund(eth, grid));
  funding = next.catch(() => {});
  return next;
}

async function fund(eth: bigint, grid: bigint): Promise<{ key: Hex; address: Address }> {
  const key = generatePrivateKey();
  const address = privateKeyToAddress(key);
  if (eth > 0n) await wait(await deployer.walletClient.sendTransaction({ to: address, value: eth }));
  if (grid > 0n)
    await wait(
      await deployer.walletClient.writeContract({
        address: deployment.contracts.computeToken,
        abi: computeTokenAbi,
        functionName: "transfer",
        args: [address, grid],
      }),
    );
  return { key, address };
}

/** Runs the real executable with a clean environment: this chain, this deployment, its own data dir. */
async function gridspot(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const home = await mkdtemp(join(work, "home-"));
  return runGridspot(args, {
    cwd: home,
    timeoutMs: 60_000,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: home,
      GRIDSPOT_RPC_URL: chain.rpcUrl,
      GRIDSPOT_DEPLOYMENTS_DIR: deploymentsDir,
      GRIDSPOT_DATA_DIR: join(home, "data"),
      GRIDSPOT_LOG: "silent",
      ...env,
    },
  });
}

const json = (run: Run) => JSON.parse(run.stdout) as Record<string, unknown>;
/** No stack trace: no `    at fn (file:line)` line anywhere. */
const noStack = (run: Run) => expect(`${run.stdout}\n${run.stderr}`).not.toMatch(/^\s+at /m);

const freeBalance = (address: Address) =>
  deployer.publicClient.readContract({
    address: deployment.contracts.computeEscrow,
    abi: computeEscrowAbi,
    functionName: "freeBalance",
    args: [address],
  });

describe("help never acts", () => {
  const program = buildProgram({ jobCommand: [] }, {}, "0.0.0", { writeOut: () => {}, writeErr: () => {} });
  const commands = listCommands(program).map((c) => c.name.split(" "));
  const groups = program.commands.map((g) => [g.name()]);
  const invocations = [[], ...groups, ...commands].map((words) => [...words, "--help"]);
  invocations.push(
    ["--version"],
    ["provider", "start", "--config", "nope.json", "--help"],
    ["job", "submit", "-h"],
  );

  it(`${invocations.length} help pages: exit 0, the usage on stdout, no transaction, no file`, async () => {
    // A funded wallet, so that a command that acted would send a transaction.
    const wallet = await account(parseEther("1"), 1000n * GRID);
    const dataDir = join(work, "help-data");
    await mkdir(dataDir);
    // Uncached: viem keeps a block number for its polling interval, which could predate the funding.
    const blockBefore = await deployer.publicClient.getBlockNumber({ cacheTime: 0 });
    const env = {
      GRIDSPOT_PRIVATE_KEY: wallet.key,
      GRIDSPOT_PASSWORD: "a long enough password",
      GRIDSPOT_DATA_DIR: dataDir,
    };
    // Four at a time: each is a Node process.
    for (let i = 0; i < invocations.length; i += 4) {
      const runs = await Promise.all(invocations.slice(i, i + 4).map((args) => gridspot(args, env)));
      runs.forEach((run, j) => {
        const args = invocations[i + j] ?? [];
        expect(run.code, args.join(" ")).toBe(0);
        if (args[0] === "--version") expect(run.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
        else expect(run.stdout, args.join(" ")).toMatch(/^Usage: gridspot/);
        expect(run.stderr, args.join(" ")).toBe("");
      });
    }
    // No transaction from or for the wallet since: none sent by it, no gas or GRID sent to it. (Other
    // tests of this file may mine blocks meanwhile: the blocks are read, not counted.)
    const blockAfter = await deployer.publicClient.getBlockNumber({ cacheTime: 0 });
    for (let n = blockBefore + 1n; n <= blockAfter; n++) {
      const block = await deployer.publicClient.getBlock({ blockNumber: n, includeTransactions: true });
      for (const tx of block.transactions) {
        expect(tx.from.toLowerCase()).not.toBe(wallet.address.toLowerCase());
        expect((tx.to ?? "").toLowerCase()).not.toBe(wallet.address.toLowerCase());
        expect(tx.input.toLowerCase()).not.toContain(wallet.address.slice(2).toLowerCase());
      }
    }
    expect(await deployer.publicClient.getTransactionCount({ address: wallet.address })).toBe(0);
    expect(await readdir(dataDir)).toEqual([]);
  }, 180_000);

  it("documents exactly the exit codes the CLI returns", async () => {
    const run = await gridspot(["--help"]);
    expect(run.stdout).toMatch(
      /Exit codes:\n\s+0 +ok\n\s+1 +error.*\n\s+2 +usage.*\n\s+4 +wallet.*\n\s+8 +pending/,
    );
  });
});

describe.concurrent("errors in words (§3)", () => {
  it("no gas: exit 4, which wallet, and how to get gas", async () => {
    const broke = await account(0n, 0n);
    const run = await gridspot(["wallet", "deposit", "1"], { GRIDSPOT_PRIVATE_KEY: broke.key });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain(`The wallet ${broke.address} has not enough ETH to pay for gas`);
    expect(run.stderr).toContain("`gridspot wallet faucet` gives the wallet gas");
    noStack(run);
  });

  it("not enough GRID to stake: exit 4, needed and held", async () => {
    const poor = await account(parseEther("1"), 3n * GRID);
    const run = await gridspot(["provider", "register"], { GRIDSPOT_PRIVATE_KEY: poor.key });
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("Not enough GRID to stake: needed 100 GRID, held 3 GRID.");
    noStack(run);
  });

  it("a provider whose stake fails exits at once, in words", async () => {
    const poor = await account(parseEther("1"), 0n);
    const dir = await mkdtemp(join(work, "provider-"));
    const config = join(dir, "provider.json");
    await writeFile(
      config,
      JSON.stringify({ dataDir: dir, api: { port: null }, runtime: { kind: "process", sandbox: "none" } }),
    );
    const started = Date.now();
    const run = await gridspot(
      ["provider", "start", "--config", config, "--listen", "/ip4/127.0.0.1/tcp/0"],
      {
        GRIDSPOT_PRIVATE_KEY: poor.key,
        // The fake nvidia-smi, as the README's try-without-a-GPU quick start uses it.
        PATH: `${join(ROOT, "test/fixtures/bin")}:${process.env.PATH ?? ""}`,
        FAKE_NVIDIA_SMI_PROFILE: "h100x2",
      },
    );
    // It exits by itself (a hang would meet the 60 s kill), and not after a long wait.
    expect(Date.now() - started).toBeLessThan(45_000);
    expect(run.code).toBe(4);
    expect(run.stderr).toContain("Not enough GRID to register: needed 100 GRID, held 0 GRID.");
    noStack(run);
  });

  it("a stale deployments file: exit 1, no contract at that address, redeploy", async () => {
    const stale = join(work, "stale");
    await writeDeployment(stale, {
      ...deployment,
      contracts: { ...deployment.contracts, computeToken: "0x1111111111111111111111111111111111111111" },
    });
    const wallet = await account(0n, 0n);
    const run = await gridspot(["wallet", "balance"], {
      GRIDSPOT_PRIVATE_KEY: wallet.key,
      GRIDSPOT_DEPLOYMENTS_DIR: stale,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      `There is no contract code at 0x1111111111111111111111111111111111111111 (computeToken) on chain ${chain.chainId}.`,
    );
    expect(run.stderr).toContain("Redeploy");
    noStack(run);
  });

  it("RPC unreachable: exit 1, the URL redacted", async () => {
    const wallet = await account(0n, 0n);
    const run = await gridspot(["wallet", "balance", "--rpc-url", "http://127.0.0.1:9/v2/SECRETKEY"], {
      GRIDSPOT_PRIVATE_KEY: wallet.key,
    });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Cannot reach the JSON-RPC endpoint at http://127.0.0.1:9/<redacted>.");
    expect(run.stderr).not.toContain("SECRETKEY");
    noStack(run);
  });

  it("a revert: its custom error's name and arguments, and what to do", async () => {
    const wallet = await account(parseEther("1"), 0n);
    const env = { GRIDSPOT_PRIVATE_KEY: wallet.key };
    expect((await gridspot(["wallet", "faucet"], env)).code).toBe(0);
    const again = await gridspot(["wallet", "faucet", "--json"], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(
      new RegExp(
        `\`faucet\` was refused by the contract: ComputeToken_FaucetCooldown\\(${wallet.address}, \\d+\\)`,
      ),
    );
    expect(again.stderr).toContain("try again after");
    expect(json(again)).toMatchObject({ error: { name: "ContractRevertError" } });
    noStack(again);
  });

  it("--bootstrap: a malformed address is a usage error (exit 2)", async () => {
    for (const bad of ["garbage", "/ip4/127.0.0.1/tcp/4001"]) {
      const run = await gridspot(["market", "offers", "--bootstrap", bad]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(`--bootstrap "${bad}"`);
      noStack(run);
    }
  });

  it("--bootstrap: unreachable peers are an error naming them (exit 1), comma-separated or repeated", async () => {
    const peer = async () => peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
    const a = `/ip4/127.0.0.1/tcp/9/p2p/${await peer()}`;
    const b = `/ip4/127.0.0.1/tcp/7/p2p/${await peer()}`;
    const c = `/ip4/127.0.0.1/tcp/13/p2p/${await peer()}`;
    const run = await gridspot([
      "market",
      "offers",
      "--local-network",
      "--wait",
      "1",
      "--bootstrap",
      `${a},${b}`,
      "--bootstrap",
      c,
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`Cannot reach the bootstrap peers ${a}, ${b}, ${c}.`);
    noStack(run);
  });

  it("job submit says so before publishing an order: a stale deployments file, an unreachable bootstrap", async () => {
    const wallet = await account(parseEther("1"), 10n * GRID);
    const peer = peerIdFromPrivateKey(await generateKeyPair("Ed25519")).toString();
    const bootstrap = `/ip4/127.0.0.1/tcp/9/p2p/${peer}`;
    const args = [
      "job",
      "submit",
      "--local-network",
      "--bootstrap",
      bootstrap,
      "--cpus",
      "1",
      "--",
      "echo",
      "hi",
    ];
    const unreachable = await gridspot(args, { GRIDSPOT_PRIVATE_KEY: wallet.key });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain(`Cannot reach the bootstrap peer ${bootstrap}.`);
    expect(unreachable.stderr).not.toContain("published");
    noStack(unreachable);
    const stale = join(work, "stale-submit");
    await writeDeployment(stale, {
      ...deployment,
      contracts: { ...deployment.contracts, computeEscrow: "0x2222222222222222222222222222222222222222" },
    });
    const staleRun = await gridspot(args, {
      GRIDSPOT_PRIVATE_KEY: wallet.key,
      GRIDSPOT_DEPLOYMENTS_DIR: stale,
    });
    expect(staleRun.code).toBe(1);
    expect(staleRun.stderr).toContain(
      "There is no contract code at 0x2222222222222222222222222222222222222222 (computeEscrow)",
    );
    noStack(staleRun);
  });
});

describe("wallet, channel and provider commands on the chain", () => {
  it("wallet faucet on a dev chain gives a new wallet gas and GRID", async () => {
    const fresh = await account(0n, 0n);
    const run = await gridspot(["wallet", "faucet", "--json"], { GRIDSPOT_PRIVATE_KEY: fresh.key });
    expect(run.code).toBe(0);
    expect(json(run)).toMatchObject({ address: fresh.address, gas: { amount: String(parseEther("1")) } });
    expect(await deployer.publicClient.getBalance({ address: fresh.address })).toBeGreaterThan(
      parseEther("0.9"),
    );
  });

  it("wallet withdraw [AMOUNT] moves free escrow GRID back to the wallet", async () => {
    const w = await account(parseEther("1"), 10n * GRID);
    const env = { GRIDSPOT_PRIVATE_KEY: w.key };
    expect((await gridspot(["wallet", "deposit", "5"], env)).code).toBe(0);
    const part = await gridspot(["wallet", "withdraw", "1.5"], env);
    expect(part.code).toBe(0);
    expect(part.stdout).toContain("Withdrew 1.5 GRID from the escrow to the wallet");
    expect(await freeBalance(w.address)).toBe((35n * GRID) / 10n);
    const rest = await gridspot(["wallet", "withdraw", "--json"], env);
    expect(json(rest)).toMatchObject({ amount: String((35n * GRID) / 10n), escrowFree: "0" });
    expect(await freeBalance(w.address)).toBe(0n);
    const none = await gridspot(["wallet", "withdraw", "2"], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain("The escrow holds 0 GRID free; 2 GRID cannot be withdrawn.");
  });

  it("channel list shows the payer's channels; channel close requests, waits the window (exit 8), then finalizes", async () => {
    const payer = await account(parseEther("1"), 10n * GRID);
    const provider = await account(0n, 0n);
    const payerClients = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payer.key });
    const escrow = deployment.contracts.computeEscrow;
    await wait(
      await payerClients.walletClient.writeContract({
        address: deployment.contracts.computeToken,
        abi: computeTokenAbi,
        functionName: "approve",
        args: [escrow, 4n * GRID],
      }),
    );
    await wait(
      await payerClients.walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "deposit",
        args: [4n * GRID],
      }),
    );
    const expiry = BigInt(Math.floor(Date.now() / 1000) + 30 * 86_400);
    await wait(
      await payerClients.walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "openChannel",
        args: [provider.address, 4n * GRID, expiry],
      }),
    );
    const env = { GRIDSPOT_PRIVATE_KEY: payer.key };
    const list = await gridspot(["channel", "list", "--json"], env);
    expect(list.code).toBe(0);
    const [channel] = json(list).channels as {
      channelId: string;
      provider: string;
      status: string;
      amount: string;
    }[];
    expect(channel).toMatchObject({ provider: provider.address, status: "open", amount: String(4n * GRID) });
    const text = await gridspot(["channel", "list"], env);
    expect(text.stdout).toMatch(/^ID +PROVIDER +STATUS +AMOUNT/);
    expect(text.stdout).toContain("4 GRID");
    const id = channel?.channelId ?? "";

    const request = await gridspot(["channel", "close", id], env);
    expect(request.code).toBe(8);
    expect(request.stdout).toContain(`Asked to close channel ${id}`);
    expect(request.stdout).toMatch(/The provider may redeem its vouchers until .* \(in (59 min|1 h)/);
    const early = await gridspot(["channel", "close", id], env);
    expect(early.code).toBe(8);
    expect(early.stdout).toContain(`Channel ${id} is closing.`);

    await deployer.publicClient.request({
      method: "evm_increaseTime" as "eth_chainId",
      params: [CHALLENGE_S + 1] as never,
    });
    await deployer.publicClient.request({ method: "evm_mine" as "eth_chainId", params: [] as never });
    const finalize = await gridspot(["channel", "close", id, "--json"], env);
    expect(finalize.code).toBe(0);
    expect(json(finalize)).toMatchObject({ status: "closed", refund: String(4n * GRID) });
    expect(await freeBalance(payer.address)).toBe(4n * GRID);
  });

  it("provider register, stake, unstake and withdraw-stake move the stake on-chain", async () => {
    const operator = await account(parseEther("1"), 500n * GRID);
    const env = { GRIDSPOT_PRIVATE_KEY: operator.key };
    const registry = deployment.contracts.providerRegistry;
    const record = () =>
      deployer.publicClient.readContract({
        address: registry,
        abi: providerRegistryAbi,
        functionName: "getProvider",
        args: [operator.address],
      });
    const stakeFirst = await gridspot(["provider", "stake", "5"], env);
    expect(stakeFirst.code).toBe(2);
    expect(stakeFirst.stderr).toContain("is not registered as a provider");

    const register = await gridspot(["provider", "register", "--stake", "150", "--json"], env);
    expect(register.code).toBe(0);
    expect(json(register)).toMatchObject({ provider: operator.address, stake: String(150n * GRID) });
    expect((await record()).stake).toBe(150n * GRID);
    expect((await record()).peerId).toBe(json(register).peerId);

    expect((await gridspot(["provider", "stake", "50"], env)).code).toBe(0);
    expect((await record()).stake).toBe(200n * GRID);

    const unstake = await gridspot(["provider", "unstake", "20"], env);
    expect(unstake.code).toBe(0);
    expect(unstake.stdout).toMatch(/can take it back after .* \(in 7 d\)/);
    expect(await record()).toMatchObject({ stake: 180n * GRID, unbonding: 20n * GRID });

    const early = await gridspot(["provider", "withdraw-stake"], env);
    expect(early.code).toBe(8);
    expect(early.stdout).toContain("20 GRID is still unbonding");

    await deployer.publicClient.request({
      method: "evm_increaseTime" as "eth_chainId",
      params: [7 * 86_400 + 1] as never,
    });
    await deployer.publicClient.request({ method: "evm_mine" as "eth_chainId", params: [] as never });
    const before = await deployer.publicClient.readContract({
      address: deployment.contracts.computeToken,
      abi: computeTokenAbi,
      functionName: "balanceOf",
      args: [operator.address],
    });
    const withdraw = await gridspot(["provider", "withdraw-stake"], env);
    expect(withdraw.code).toBe(0);
    expect(withdraw.stdout).toContain("Withdrew 20 GRID of unbonded stake");
    expect(
      await deployer.publicClient.readContract({
        address: deployment.contracts.computeToken,
        abi: computeTokenAbi,
        functionName: "balanceOf",
        args: [operator.address],
      }),
    ).toBe(before + 20n * GRID);
    expect(await record()).toMatchObject({ stake: 180n * GRID, unbonding: 0n });
  });
});
