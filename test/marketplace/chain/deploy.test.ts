import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import {
  DEFAULT_CHALLENGE_PERIOD_S,
  DEFAULT_FAUCET,
  DEFAULT_FEE_BPS,
  DEFAULT_INITIAL_SUPPLY,
  DEFAULT_MIN_STAKE,
  DEFAULT_UNBONDING_PERIOD_S,
} from "../../../marketplace/chain/constants.ts";
import { getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import { deploymentPath, readDeployment, writeDeployment } from "../../../marketplace/chain/deployments.ts";
import {
  ChainMismatchError,
  ChainUnreachableError,
  DeploymentNotFoundError,
  InvalidDeploymentError,
  InvalidDeployParametersError,
  InvalidPrivateKeyError,
  InvalidRpcUrlError,
} from "../../../marketplace/chain/errors.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";

const root = join(import.meta.dirname, "..", "..", "..");
const hardhatCli = join(root, "node_modules", "hardhat", "dist", "src", "cli.js");

let chain: LocalChain;
let clients: WalletChainClients;
let dir: string;

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 3 });
  clients = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: chain.privateKeys[0] ?? "" });
  dir = await mkdtemp(join(tmpdir(), "gridspot-deployments-"));
});

afterAll(async () => {
  await chain?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A port nothing listens on: bound by the OS, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The error a promise rejects with; fails when it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

function runDeployScript(env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [hardhatCli, "run", "--no-compile", "scripts/deploy.ts", "--network", "rpc"],
      {
        cwd: root,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("deployGridspot", () => {
  it("deploys the three contracts over HTTP and round-trips the deployment file", async () => {
    const deployment = await deployGridspot(clients, { token: { faucet: true } });
    const deployer = getAddress(clients.walletClient.account.address);

    expect(deployment.chainId).toBe(31337);
    expect(deployment.deployer).toBe(deployer);
    expect(deployment.deployBlock).toBeGreaterThan(0n);
    expect(Date.parse(deployment.deployedAt)).not.toBeNaN();
    expect(deployment.parameters).toEqual({
      token: { initialSupply: DEFAULT_INITIAL_SUPPLY, faucet: DEFAULT_FAUCET },
      registry: { minStake: DEFAULT_MIN_STAKE, unbondingPeriodS: DEFAULT_UNBONDING_PERIOD_S },
      escrow: {
        challengePeriodS: DEFAULT_CHALLENGE_PERIOD_S,
        feeBps: DEFAULT_FEE_BPS,
        feeRecipient: deployer,
      },
    });
    for (const address of Object.values(deployment.contracts)) {
      const code = await clients.publicClient.getCode({ address });
      expect(code?.length ?? 0).toBeGreaterThan(2);
    }

    const file = await writeDeployment(dir, deployment);
    expect(file).toBe(join(dir, "31337.json"));
    const json = JSON.parse(await readFile(file, "utf8"));
    expect(json.deployBlock).toBe(deployment.deployBlock.toString());
    expect(json.parameters.token.initialSupply).toBe("1000000000000000000000000000");
    expect(await readDeployment(dir, 31337)).toEqual(deployment);

    const { computeToken, providerRegistry, computeEscrow } = getGridspotContracts(clients, deployment);
    expect(await computeToken.read.symbol()).toBe("GRID");
    expect(await computeToken.read.decimals()).toBe(18);
    expect(await computeToken.read.balanceOf([deployer])).toBe(DEFAULT_INITIAL_SUPPLY);
    expect(await computeToken.read.faucetAmount()).toBe(DEFAULT_FAUCET.amount);
    expect(await providerRegistry.read.minStake()).toBe(DEFAULT_MIN_STAKE);
    expect(await providerRegistry.read.unbondingPeriod()).toBe(BigInt(DEFAULT_UNBONDING_PERIOD_S));
    expect(await providerRegistry.read.stakeToken()).toBe(deployment.contracts.computeToken);
    expect(await computeEscrow.read.feeBps()).toBe(100n);
    expect(await computeEscrow.read.challengePeriod()).toBe(3600n);
    expect(await computeEscrow.read.token()).toBe(deployment.contracts.computeToken);
    expect(await computeEscrow.read.owner()).toBe(deployer);
  });

  it("deploys with the settings it is given, the faucet off by default", async () => {
    const feeRecipient = getAddress("0x000000000000000000000000000000000000fee5");
    const deployment = await deployGridspot(clients, {
      token: { initialSupply: 5n * 10n ** 18n },
      registry: { minStake: 7n, unbondingPeriodS: 60 },
      escrow: { challengePeriodS: 600, feeBps: 250, feeRecipient },
    });
    expect(deployment.parameters.token.faucet).toEqual({ amount: 0n, cooldownS: 0, cap: 0n });
    const { computeToken, providerRegistry, computeEscrow } = getGridspotContracts(clients, deployment);
    expect(await computeToken.read.totalSupply()).toBe(5n * 10n ** 18n);
    expect(await computeToken.read.faucetAmount()).toBe(0n);
    await expect(computeToken.simulate.faucet()).rejects.toThrow(/ComputeToken_FaucetDisabled/);
    expect(await providerRegistry.read.minStake()).toBe(7n);
    expect(await providerRegistry.read.unbondingPeriod()).toBe(60n);
    expect(await computeEscrow.read.challengePeriod()).toBe(600n);
    expect(await computeEscrow.read.feeBps()).toBe(250n);
    expect(await computeEscrow.read.feeRecipient()).toBe(feeRecipient);
  });

  it("rejects settings the contracts would revert on before sending anything", async () => {
    const address = clients.walletClient.account.address;
    const nonce = await clients.publicClient.getTransactionCount({ address });
    await expect(deployGridspot(clients, { escrow: { feeBps: 1001 } })).rejects.toThrow(
      InvalidDeployParametersError,
    );
    await expect(deployGridspot(clients, { escrow: { feeBps: 1001 } })).rejects.toThrow(/escrow\.feeBps/);
    await expect(deployGridspot(clients, { token: { faucet: { amount: 10n, cap: 5n } } })).rejects.toThrow(
      /token\.faucet\.amount/,
    );
    await expect(deployGridspot(clients, { registry: { unbondingPeriodS: 1.5 } })).rejects.toThrow(
      /registry\.unbondingPeriodS/,
    );
    expect(await clients.publicClient.getTransactionCount({ address })).toBe(nonce);
  });
});

describe("scripts/deploy.ts under hardhat run --network rpc", () => {
  it("deploys to the JSON-RPC node and writes <chainId>.json", async () => {
    const out = await mkdtemp(join(tmpdir(), "gridspot-deploy-script-"));
    try {
      const result = await runDeployScript({
        GRIDSPOT_RPC_URL: chain.rpcUrl,
        GRIDSPOT_DEPLOYER_KEY: chain.privateKeys[1] ?? "",
        GRIDSPOT_DEPLOYMENTS_DIR: out,
        GRIDSPOT_FAUCET: "",
      });
      expect(result.stderr).not.toContain(chain.privateKeys[1]);
      expect(result.code, result.stderr).toBe(0);
      const deployment = await readDeployment(out, 31337);
      expect(JSON.parse(result.stdout).contracts).toEqual(deployment.contracts);
      expect(deployment.deployer).toBe(getAddress(addressOfKey(1)));
      // Chain 31337 gets the faucet by default.
      expect(deployment.parameters.token.faucet).toEqual(DEFAULT_FAUCET);
      const { computeToken, computeEscrow } = getGridspotContracts(clients, deployment);
      expect(await computeToken.read.symbol()).toBe("GRID");
      expect(await computeEscrow.read.feeBps()).toBe(100n);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  it("names the bad key variable and never prints the key", async () => {
    const badKey = "0xdeadbeef";
    const result = await runDeployScript({ GRIDSPOT_RPC_URL: chain.rpcUrl, GRIDSPOT_DEPLOYER_KEY: badKey });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("GRIDSPOT_DEPLOYER_KEY");
    expect(result.stderr).toContain("expected 64 hex characters, got 8");
    expect(result.stderr).not.toContain("deadbeef");
  });
});

function addressOfKey(index: number): string {
  const key = chain.privateKeys[index];
  if (key === undefined) throw new Error(`no key ${index}`);
  return privateKeyToAddress(key);
}

describe("createChainClients", () => {
  it("reports an unreachable RPC without showing the URL's secret parts", async () => {
    const port = await closedPort();
    const attempt = createChainClients({
      rpcUrl: `http://127.0.0.1:${port}/v2/secret-api-key`,
      timeoutMs: 2_000,
    });
    await expect(attempt).rejects.toThrow(ChainUnreachableError);
    const error = await rejection(attempt);
    expect(error.message).toContain(`http://127.0.0.1:${port}/<redacted>`);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(error.message).not.toContain("secret-api-key");
  });

  it("reports a chain that was stopped as unreachable", async () => {
    const other = await startLocalChain({ accounts: 1 });
    const readOnly = await createChainClients({ rpcUrl: other.rpcUrl });
    expect(readOnly.chain.id).toBe(31337);
    expect(readOnly).not.toHaveProperty("walletClient");
    await other.stop();
    await expect(createChainClients({ rpcUrl: other.rpcUrl, timeoutMs: 2_000 })).rejects.toThrow(
      ChainUnreachableError,
    );
  });

  it("rejects a wrong-length or non-hex key without echoing it, before any network call", async () => {
    const short = "0x1234abcd";
    const error = await rejection(createChainClients({ rpcUrl: chain.rpcUrl, privateKey: short }));
    expect(error).toBeInstanceOf(InvalidPrivateKeyError);
    expect(error.message).toContain("expected 64 hex characters, got 8");
    expect(error.message).not.toContain("1234abcd");

    const nonHex = `0x${"zz".repeat(32)}`;
    await expect(createChainClients({ rpcUrl: chain.rpcUrl, privateKey: nonHex })).rejects.toThrow(/not hex/);
    const zero = `0x${"00".repeat(32)}`;
    await expect(createChainClients({ rpcUrl: chain.rpcUrl, privateKey: zero })).rejects.toThrow(
      /not a valid secp256k1 key/,
    );
    // The key is checked first: a bad key with a dead RPC still reports the key.
    await expect(
      createChainClients({ rpcUrl: `http://127.0.0.1:${await closedPort()}`, privateKey: short }),
    ).rejects.toThrow(InvalidPrivateKeyError);
  });

  it("accepts a key without 0x and with surrounding whitespace", async () => {
    const key = chain.privateKeys[2] ?? "";
    const withSpace = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: ` ${key.slice(2)}\n` });
    expect(withSpace.walletClient.account.address).toBe(getAddress(addressOfKey(2)));
  });

  it("rejects a URL that is not http(s)", async () => {
    await expect(createChainClients({ rpcUrl: "ws://127.0.0.1:8545" })).rejects.toThrow(InvalidRpcUrlError);
    await expect(createChainClients({ rpcUrl: "not a url" })).rejects.toThrow(InvalidRpcUrlError);
  });
});

describe("readDeployment", () => {
  async function deploymentJson(): Promise<Record<string, unknown>> {
    const deployment: Deployment = {
      chainId: 777,
      deployer: getAddress("0x00000000000000000000000000000000000000d1"),
      deployBlock: 12n,
      deployedAt: "2026-01-02T03:04:05.000Z",
      contracts: {
        computeToken: getAddress("0x00000000000000000000000000000000000000a1"),
        providerRegistry: getAddress("0x00000000000000000000000000000000000000a2"),
        computeEscrow: getAddress("0x00000000000000000000000000000000000000a3"),
      },
      parameters: {
        token: { initialSupply: 1n, faucet: { amount: 0n, cooldownS: 0, cap: 0n } },
        registry: { minStake: 2n, unbondingPeriodS: 3 },
        escrow: {
          challengePeriodS: 4,
          feeBps: 5,
          feeRecipient: getAddress("0x00000000000000000000000000000000000000d1"),
        },
      },
    };
    const sub = await mkdtemp(join(dir, "json-"));
    await writeDeployment(sub, deployment);
    return JSON.parse(await readFile(deploymentPath(sub, 777), "utf8"));
  }

  /** Writes `text` as chain 777's file and reads it: the deployment, or the error. */
  async function readWritten(text: string) {
    const sub = await mkdtemp(join(dir, "file-"));
    await writeFile(join(sub, "777.json"), text);
    const result = await readDeployment(sub, 777).catch((error: unknown) => {
      if (error instanceof Error) return error;
      throw error;
    });
    return { sub, result, error: result instanceof Error ? result : new Error("expected a rejection") };
  }

  it("says there is no deployment for a chain and how to make one", async () => {
    const error = await rejection(readDeployment(dir, 424242));
    expect(error).toBeInstanceOf(DeploymentNotFoundError);
    expect(error.message).toContain(join(dir, "424242.json"));
    expect(error.message).toContain("npm run deploy -- --network");
  });

  it("rejects a file that is not JSON, naming the file", async () => {
    const { sub, error } = await readWritten('{"chainId": 777,');
    expect(error).toBeInstanceOf(InvalidDeploymentError);
    expect(error.message).toContain(join(sub, "777.json"));
    expect(error.message).toContain("not valid JSON");
  });

  it("names a missing field", async () => {
    const json = await deploymentJson();
    delete (json.contracts as Record<string, unknown>).computeEscrow;
    const { error } = await readWritten(JSON.stringify(json));
    expect(error).toBeInstanceOf(InvalidDeploymentError);
    expect(error.message).toMatch(/contracts\.computeEscrow: Required/);
  });

  it("names an invalid field", async () => {
    const json = await deploymentJson();
    (json.contracts as Record<string, unknown>).computeToken = "0x1234";
    (json.parameters as { token: { initialSupply: unknown } }).token.initialSupply = 1.5;
    const { error } = await readWritten(JSON.stringify(json));
    expect(error.message).toContain("contracts.computeToken: expected a 0x-prefixed 20-byte address");
    expect(error.message).toContain("parameters.token.initialSupply");
  });

  it("rejects a file for another chain", async () => {
    const json = await deploymentJson();
    json.chainId = 778;
    const { error } = await readWritten(JSON.stringify(json));
    expect(error.message).toContain("the file is for chain 778, not 777");
  });

  it("reads back what it wrote", async () => {
    const json = await deploymentJson();
    const { result } = await readWritten(JSON.stringify(json));
    expect(result).toMatchObject({
      chainId: 777,
      deployBlock: 12n,
      parameters: { registry: { minStake: 2n } },
    });
  });

  it("refuses contracts for another chain than the clients'", async () => {
    const json = await deploymentJson();
    const { result } = await readWritten(JSON.stringify(json));
    if (result instanceof Error) throw result;
    expect(() => getGridspotContracts(clients, result)).toThrow(ChainMismatchError);
  });
});
