// Gas benchmark: deploys the contracts on a fresh anvil chain and measures the gas of whole
// transactions (receipt.gasUsed, so the 21,000 base cost and calldata are included) along the
// paths a payer and a provider take.
//
//   npm run bench:gas                         readable table
//   npm run bench:gas -- --json               progress on stderr, one JSON object as the last stdout line
//   npm run bench:gas -- --update-snapshot    also rewrites test/contracts/gas-snapshot.json
//
// Each figure is measured in its usual steady state, not its one-time worst case: before the
// measured calls the escrow already holds tokens, has accrued fees and has paid the provider once,
// and both transfer parties already hold tokens. A payer's first deposit (free balance from zero)
// and a fresh channel's first voucher are what they are.
//
// The hardfork is pinned so that an anvil upgrade cannot move the figures.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type Account,
  type Address,
  type Chain,
  createTestClient,
  type Hex,
  http,
  type PublicClient,
  parseSignature,
  parseUnits,
  type Transport,
  type WalletClient,
} from "viem";
import { createChainClients, type WalletChainClients } from "../../marketplace/chain/clients.ts";
import { type GridspotContracts, getGridspotContracts } from "../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../marketplace/chain/deploy.ts";
import { permitTypedData } from "../../marketplace/chain/permit.ts";
import { compactVoucherSignature, signVoucher } from "../../marketplace/chain/voucher.ts";
import { startLocalChain } from "../lib/localChain.ts";

/** The EVM rules the figures are measured under. */
export const BENCH_HARDFORK = "osaka";
/** Channels redeemed together in the batch measurement. */
export const BATCH_SIZE = 100;
/** Where `--update-snapshot` writes, and what the snapshot test compares against. */
export const GAS_SNAPSHOT_PATH = join(
  import.meta.dirname,
  "..",
  "..",
  "test",
  "contracts",
  "gas-snapshot.json",
);

/** The figures, in gas, in the order they are measured. */
export const GAS_METRICS = [
  "erc20Transfer",
  "deposit",
  "depositWithPermit",
  "openChannel",
  "redeemFirst",
  "redeemUpdate",
  "redeemBatch100PerVoucher",
  "requestClose",
  "finalizeClose",
] as const;

export type GasMetric = (typeof GAS_METRICS)[number];
export type GasFigures = Record<GasMetric, number>;

export type MeasureGasParameters = {
  /** Called with a line for each step (the CLI sends it to stderr). */
  onProgress?: ((message: string) => void) | undefined;
};

type Actor = GridspotContracts<WalletChainClients> & {
  walletClient: WalletClient<Transport, Chain, Account>;
  address: Address;
};

const grid = (amount: string) => parseUnits(amount, 18);
const DAY_S = 86_400n;

/** Runs every measurement on a chain of its own, which it stops before returning. */
export async function measureGas(parameters: MeasureGasParameters = {}): Promise<GasFigures> {
  const progress = parameters.onProgress ?? (() => {});
  const chain = await startLocalChain({ accounts: 5, hardfork: BENCH_HARDFORK });
  try {
    return await measureOn(chain.rpcUrl, chain.privateKeys, progress);
  } finally {
    await chain.stop();
  }
}

async function measureOn(
  rpcUrl: string,
  keys: Hex[],
  progress: (message: string) => void,
): Promise<GasFigures> {
  const [deployerKey, payerKey, permitPayerKey, providerKey] = keys;
  if (!deployerKey || !payerKey || !permitPayerKey || !providerKey) throw new Error("need 4 accounts");
  const deployer = await createChainClients({ rpcUrl, privateKey: deployerKey });
  const { chain, publicClient } = deployer;
  const testClient = createTestClient({ mode: "anvil", chain, transport: http(rpcUrl) });
  const gasOf = gasCounter(publicClient);
  const figures: Partial<GasFigures> = {};
  const record = (metric: GasMetric, gas: bigint) => {
    figures[metric] = Number(gas);
    progress(`${metric}: ${gas}`);
  };
  const now = async () => (await publicClient.getBlock()).timestamp;

  progress("deploying contracts…");
  const deployment = await deployGridspot(deployer);
  const { chainId } = deployment;
  const escrowAddress = deployment.contracts.computeEscrow;
  /** The contracts, sending from the account with this key. */
  const actor = async (privateKey: Hex) => {
    const { walletClient } = await createChainClients({ rpcUrl, privateKey });
    return {
      walletClient,
      address: walletClient.account.address,
      ...getGridspotContracts({ chain, publicClient, walletClient }, deployment),
    };
  };
  const owner = await actor(deployerKey);
  const payer = await actor(payerKey);
  const permitPayer = await actor(permitPayerKey);
  const provider = await actor(providerKey);

  const openChannel = async (from: Actor, amount: bigint) => {
    const expiry = (await now()) + DAY_S;
    const gas = await gasOf(from.computeEscrow.write.openChannel([provider.address, amount, expiry]));
    return { channelId: await from.computeEscrow.read.lastChannelId(), gas };
  };
  const voucher = (from: Actor, channelId: bigint, cumulativeAmount: bigint) =>
    signVoucher(from.walletClient, {
      chainId,
      escrow: escrowAddress,
      voucher: { channelId, cumulativeAmount },
    });
  const redeem = async (from: Actor, channelId: bigint, cumulativeAmount: bigint) => {
    const signature = await voucher(from, channelId, cumulativeAmount);
    const { r, vs } = compactVoucherSignature(signature);
    return gasOf(provider.computeEscrow.write.redeem([channelId, cumulativeAmount, r, vs]));
  };

  progress("setting up balances…");
  for (const { address } of [payer, permitPayer, provider]) {
    await gasOf(owner.computeToken.write.transfer([address, grid("1000000")]));
  }
  // Warm-up: the escrow holds tokens, has accrued fees and has paid the provider once.
  await gasOf(owner.computeToken.write.approve([escrowAddress, grid("1000")]));
  await gasOf(owner.computeEscrow.write.deposit([grid("1000")]));
  await redeem(owner, (await openChannel(owner, grid("10"))).channelId, grid("1.5"));

  record(
    "erc20Transfer",
    await gasOf(owner.computeToken.write.transfer([payer.address, grid("123.456789")])),
  );

  const depositAmount = grid("50000");
  await gasOf(payer.computeToken.write.approve([escrowAddress, depositAmount]));
  record("deposit", await gasOf(payer.computeEscrow.write.deposit([depositAmount])));

  const permitDeadline = (await now()) + DAY_S;
  const permit = parseSignature(
    await permitPayer.walletClient.signTypedData(
      permitTypedData({
        tokenName: "gridspot compute",
        token: deployment.contracts.computeToken,
        chainId,
        owner: permitPayer.address,
        spender: escrowAddress,
        value: depositAmount,
        nonce: 0n,
        deadline: permitDeadline,
      }),
    ),
  );
  const { r, s, yParity } = permit;
  record(
    "depositWithPermit",
    await gasOf(
      permitPayer.computeEscrow.write.depositWithPermit([depositAmount, permitDeadline, yParity + 27, r, s]),
    ),
  );

  const { channelId, gas: openGas } = await openChannel(payer, grid("250.5"));
  record("openChannel", openGas);
  record("redeemFirst", await redeem(payer, channelId, grid("1.234567891234567891")));
  record("redeemUpdate", await redeem(payer, channelId, grid("2.469135782469135782")));

  progress(`opening ${BATCH_SIZE} channels for the batch…`);
  const batch: { channelId: bigint; cumulativeAmount: bigint; signature: Hex }[] = [];
  for (let i = 0; i < BATCH_SIZE; i++) {
    const opened = await openChannel(payer, grid("100"));
    const cumulativeAmount = grid("1.234567891234567891") + BigInt(i);
    batch.push({
      ...opened,
      cumulativeAmount,
      signature: await voucher(payer, opened.channelId, cumulativeAmount),
    });
  }
  const batchGas = await gasOf(
    provider.computeEscrow.write.redeemBatch([
      batch.map(({ channelId, cumulativeAmount, signature }) => ({
        channelId,
        cumulativeAmount,
        ...compactVoucherSignature(signature),
      })),
    ]),
  );
  progress(`redeemBatch of ${BATCH_SIZE}: ${batchGas} in total`);
  record("redeemBatch100PerVoucher", batchGas / BigInt(BATCH_SIZE));

  record("requestClose", await gasOf(payer.computeEscrow.write.requestClose([channelId])));
  await testClient.increaseTime({ seconds: deployment.parameters.escrow.challengePeriodS + 1 });
  await testClient.mine({ blocks: 1 });
  record("finalizeClose", await gasOf(payer.computeEscrow.write.finalizeClose([channelId])));

  return Object.fromEntries(
    GAS_METRICS.map((metric) => [metric, figures[metric] ?? Number.NaN]),
  ) as GasFigures;
}

/** Waits for a transaction, fails on a revert and returns its gas. */
function gasCounter(publicClient: PublicClient<Transport, Chain>) {
  return async (sent: Promise<Hex>): Promise<bigint> => {
    const hash = await sent;
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return receipt.gasUsed;
  };
}

/** Reads the committed snapshot: one figure per metric. */
export async function readGasSnapshot(path = GAS_SNAPSHOT_PATH): Promise<Partial<Record<string, number>>> {
  return JSON.parse(await readFile(path, "utf8")) as Partial<Record<string, number>>;
}

/** Pretty JSON with one metric per line, in measurement order. */
export function formatGasSnapshot(figures: GasFigures): string {
  return `${JSON.stringify(figures, GAS_METRICS as unknown as string[], 2)}\n`;
}

function formatTable(figures: GasFigures): string {
  const width = Math.max(...GAS_METRICS.map((metric) => metric.length));
  const rows = GAS_METRICS.map(
    (metric) => `${metric.padEnd(width)}  ${figures[metric].toLocaleString("en-US").padStart(10)}`,
  );
  return [`${"transaction".padEnd(width)}  ${"gas".padStart(10)}`, ...rows].join("\n");
}

async function main(argv: readonly string[]): Promise<number> {
  const known = new Set(["--json", "--update-snapshot"]);
  const unknown = argv.filter((arg) => !known.has(arg));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown option ${unknown.join(" ")}\nusage: bench:gas [--json] [--update-snapshot]\n`,
    );
    return 2;
  }
  const json = argv.includes("--json");
  const started = Date.now();
  const figures = await measureGas({ onProgress: (message) => process.stderr.write(`${message}\n`) });
  process.stderr.write(`measured in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  if (argv.includes("--update-snapshot")) {
    await writeFile(GAS_SNAPSHOT_PATH, formatGasSnapshot(figures));
    process.stderr.write(`wrote ${GAS_SNAPSHOT_PATH}\n`);
  }
  process.stdout.write(json ? `${JSON.stringify(figures)}\n` : `${formatTable(figures)}\n`);
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `bench:gas failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
