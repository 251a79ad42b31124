import {
  type Abi,
  type Account,
  type Address,
  type Chain,
  type ContractConstructorArgs,
  getAddress,
  type Hex,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import {
  computeEscrowAbi,
  computeEscrowBytecode,
  computeTokenAbi,
  computeTokenBytecode,
  providerRegistryAbi,
  providerRegistryBytecode,
} from "./artifacts.generated.ts";
import type { ChainClients } from "./clients.ts";
import {
  DEFAULT_CHALLENGE_PERIOD_S,
  DEFAULT_FAUCET,
  DEFAULT_FEE_BPS,
  DEFAULT_INITIAL_SUPPLY,
  DEFAULT_MIN_STAKE,
  DEFAULT_RECEIPT_TIMEOUT_MS,
  DEFAULT_UNBONDING_PERIOD_S,
  MAX_FEE_BPS,
} from "./constants.ts";
import type { Deployment } from "./deployment.ts";
import { DeploymentFailedError, InvalidDeployParametersError, WalletRequiredError } from "./errors.ts";

export type FaucetParameters = { amount: bigint; cooldownS: number; cap: bigint };

/**
 * What to deploy with; every field has a default (see `constants.ts`). The faucet is off unless
 * asked for: `true` enables it with `DEFAULT_FAUCET`, an object with those values overridden.
 */
export type DeployGridspotParameters = {
  token?: {
    initialSupply?: bigint | undefined;
    faucet?: boolean | Partial<FaucetParameters> | undefined;
  };
  registry?: { minStake?: bigint | undefined; unbondingPeriodS?: number | undefined };
  escrow?: {
    challengePeriodS?: number | undefined;
    feeBps?: number | undefined;
    /** Default: the deployer. */
    feeRecipient?: Address | undefined;
  };
  /** Bound on each receipt wait, in milliseconds. */
  receiptTimeoutMs?: number | undefined;
  /** Called with a line of progress for each step (for stderr; never contains secrets). */
  onProgress?: ((message: string) => void) | undefined;
};

type DeployClients = Pick<ChainClients, "publicClient" | "walletClient">;

/**
 * Deploys ComputeToken, ProviderRegistry and ComputeEscrow from the wallet client's account, one
 * after the other, waiting for each receipt. The deployer owns the registry and the escrow and
 * receives the initial supply. Works with any viem clients: ours over HTTP, or Hardhat's.
 */
export async function deployGridspot(
  clients: DeployClients,
  parameters: DeployGridspotParameters = {},
): Promise<Deployment> {
  const { publicClient, walletClient } = clients;
  if (walletClient === undefined) throw new WalletRequiredError("Deploying the gridspot contracts");
  const deployer = getAddress(walletClient.account.address);
  const settings = resolveParameters(parameters, deployer);
  const { token, registry, escrow } = settings;
  const progress = parameters.onProgress ?? (() => {});
  const timeout = parameters.receiptTimeoutMs ?? DEFAULT_RECEIPT_TIMEOUT_MS;
  const chainId = await publicClient.getChainId();
  const step = { publicClient, walletClient, timeout, progress };

  const computeToken = await deployOne(step, "ComputeToken", {
    abi: computeTokenAbi,
    bytecode: computeTokenBytecode,
    args: [
      deployer,
      token.initialSupply,
      token.faucet.amount,
      BigInt(token.faucet.cooldownS),
      token.faucet.cap,
    ],
  });
  const providerRegistry = await deployOne(step, "ProviderRegistry", {
    abi: providerRegistryAbi,
    bytecode: providerRegistryBytecode,
    args: [computeToken.address, registry.minStake, BigInt(registry.unbondingPeriodS), deployer],
  });
  const computeEscrow = await deployOne(step, "ComputeEscrow", {
    abi: computeEscrowAbi,
    bytecode: computeEscrowBytecode,
    args: [
      computeToken.address,
      BigInt(escrow.challengePeriodS),
      BigInt(escrow.feeBps),
      escrow.feeRecipient,
      deployer,
    ],
  });

  const block = await publicClient.getBlock({ blockNumber: computeToken.blockNumber });
  return {
    chainId,
    deployer,
    deployBlock: computeToken.blockNumber,
    deployedAt: new Date(Number(block.timestamp) * 1000).toISOString(),
    contracts: {
      computeToken: computeToken.address,
      providerRegistry: providerRegistry.address,
      computeEscrow: computeEscrow.address,
    },
    parameters: settings,
  };
}

/** Fills in the defaults and rejects what the constructors would revert on. */
function resolveParameters(
  parameters: DeployGridspotParameters,
  deployer: Address,
): Deployment["parameters"] {
  const requested = parameters.token?.faucet ?? false;
  const faucet =
    requested === false
      ? { amount: 0n, cooldownS: 0, cap: 0n }
      : { ...DEFAULT_FAUCET, ...(requested === true ? {} : stripUndefined(requested)) };
  const resolved: Deployment["parameters"] = {
    token: { initialSupply: parameters.token?.initialSupply ?? DEFAULT_INITIAL_SUPPLY, faucet },
    registry: {
      minStake: parameters.registry?.minStake ?? DEFAULT_MIN_STAKE,
      unbondingPeriodS: parameters.registry?.unbondingPeriodS ?? DEFAULT_UNBONDING_PERIOD_S,
    },
    escrow: {
      challengePeriodS: parameters.escrow?.challengePeriodS ?? DEFAULT_CHALLENGE_PERIOD_S,
      feeBps: parameters.escrow?.feeBps ?? DEFAULT_FEE_BPS,
      feeRecipient: parameters.escrow?.feeRecipient ?? deployer,
    },
  };
  const { token, registry, escrow } = resolved;
  for (const [name, value] of [
    ["token.initialSupply", token.initialSupply],
    ["token.faucet.amount", token.faucet.amount],
    ["token.faucet.cap", token.faucet.cap],
    ["registry.minStake", registry.minStake],
  ] as const) {
    if (value < 0n) throw new InvalidDeployParametersError(`${name} must not be negative.`);
  }
  for (const [name, value] of [
    ["token.faucet.cooldownS", token.faucet.cooldownS],
    ["registry.unbondingPeriodS", registry.unbondingPeriodS],
    ["escrow.challengePeriodS", escrow.challengePeriodS],
    ["escrow.feeBps", escrow.feeBps],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new InvalidDeployParametersError(`${name} must be a non-negative integer, got ${value}.`);
    }
  }
  if (requested !== false && (faucet.amount === 0n || faucet.amount > faucet.cap)) {
    throw new InvalidDeployParametersError(
      "token.faucet.amount must be above zero and at most token.faucet.cap.",
    );
  }
  if (escrow.feeBps > MAX_FEE_BPS) {
    throw new InvalidDeployParametersError(
      `escrow.feeBps must be at most ${MAX_FEE_BPS}, got ${escrow.feeBps}.`,
    );
  }
  if (/^0x0{40}$/i.test(escrow.feeRecipient)) {
    throw new InvalidDeployParametersError("escrow.feeRecipient must not be the zero address.");
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>;
  };
}

type Step = {
  publicClient: PublicClient<Transport, Chain>;
  walletClient: WalletClient<Transport, Chain, Account>;
  timeout: number;
  progress: (message: string) => void;
};

/** Constructor arguments are checked against each generated ABI at the call site. */
async function deployOne<const abi extends Abi>(
  step: Step,
  name: string,
  contract: { abi: abi; bytecode: Hex; args: ContractConstructorArgs<abi> },
): Promise<{ address: Address; blockNumber: bigint }> {
  const { publicClient, walletClient, timeout, progress } = step;
  progress(`deploying ${name}…`);
  let hash: Hex;
  try {
    hash = await walletClient.deployContract({
      abi: contract.abi as Abi,
      bytecode: contract.bytecode,
      args: contract.args as readonly unknown[],
      account: walletClient.account,
      chain: walletClient.chain,
    });
  } catch (error) {
    throw new DeploymentFailedError(name, { details: shortMessageOf(error) });
  }
  let receipt: Awaited<ReturnType<typeof publicClient.waitForTransactionReceipt>>;
  try {
    receipt = await publicClient.waitForTransactionReceipt({ hash, timeout });
  } catch (error) {
    throw new DeploymentFailedError(name, {
      details: `no receipt for transaction ${hash}: ${shortMessageOf(error)}`,
    });
  }
  if (receipt.status !== "success" || receipt.contractAddress == null) {
    throw new DeploymentFailedError(name, {
      details: `transaction ${hash} reverted in block ${receipt.blockNumber}`,
    });
  }
  const address = getAddress(receipt.contractAddress);
  progress(`${name} at ${address} (block ${receipt.blockNumber}, gas ${receipt.gasUsed})`);
  return { address, blockNumber: receipt.blockNumber };
}

/**
 * viem's one-line summary. The full error is not kept as the cause: over HTTP its message quotes
 * the RPC URL, which may hold an API key.
 */
function shortMessageOf(error: unknown): string {
  if (error instanceof Error) {
    const short = (error as { shortMessage?: unknown }).shortMessage;
    return typeof short === "string" ? short : (error.message.split("\n")[0] ?? error.name);
  }
  return String(error);
}
