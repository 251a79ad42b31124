import {
  ContractFunctionExecutionError,
  ContractFunctionRevertedError,
  ContractFunctionZeroDataError,
  decodeErrorResult,
  formatUnits,
  type Hex,
  HttpRequestError,
  InsufficientFundsError,
  TimeoutError,
  BaseError as ViemBaseError,
} from "viem";
import { BaseError } from "../errors/base.ts";
import { computeEscrowAbi, computeTokenAbi, providerRegistryAbi } from "./artifacts.generated.ts";
import {
  ChainUnreachableError,
  ContractRevertError,
  NoGasError,
  NotEnoughGridError,
  StaleDeploymentError,
} from "./errors.ts";
import { redactRpcUrl } from "./redactRpcUrl.ts";

/** Every custom error the contracts (and the OpenZeppelin code inside them) can revert with. */
const ERRORS_ABI = [...computeTokenAbi, ...computeEscrowAbi, ...providerRegistryAbi].filter(
  (item) => item.type === "error",
);

export type ExplainChainErrorContext = {
  rpcUrl?: string | undefined;
  chainId?: number | undefined;
  /** The account that sent the transaction. */
  address?: string | undefined;
  /** Contract names by address (a deployment's `contracts`), to name a missing one. */
  contracts?: Record<string, string> | undefined;
};

/**
 * Turns what viem throws for a foreseeable chain problem into a gridspot error in words: no gas,
 * not enough GRID (needed, held), no contract at a deployment's address (stale file), the RPC
 * endpoint unreachable (its URL redacted), or a revert decoded to the custom error's name and
 * arguments. Anything else comes back unchanged.
 */
export function explainChainError(error: unknown, context: ExplainChainErrorContext = {}): unknown {
  if (error instanceof BaseError || !(error instanceof ViemBaseError)) return error;
  const execution = error.walk((e) => e instanceof ContractFunctionExecutionError) as
    | ContractFunctionExecutionError
    | undefined;
  const what = execution === undefined ? "The transaction" : `\`${execution.functionName}\``;

  if (hasCause(error, InsufficientFundsError))
    return new NoGasError(context.address, context.chainId, { cause: error, details: "" });

  if (hasCause(error, ContractFunctionZeroDataError) && execution !== undefined) {
    const address = execution.contractAddress ?? "?";
    const name =
      Object.entries(context.contracts ?? {}).find(
        ([, a]) => a.toLowerCase() === address.toLowerCase(),
      )?.[0] ?? "a gridspot contract";
    return new StaleDeploymentError(name, address, context.chainId ?? 0, { cause: error, details: "" });
  }

  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError) as
    | ContractFunctionRevertedError
    | undefined;
  if (reverted instanceof ContractFunctionRevertedError) {
    const decoded = decodeRevert(reverted);
    if (decoded !== undefined) {
      if (decoded.errorName === "ERC20InsufficientBalance") {
        const [, balance, needed] = decoded.args as [string, bigint, bigint];
        return new NotEnoughGridError(
          what === "The transaction" ? "pay" : `${what.replaceAll("`", "")}`,
          `${formatUnits(needed, 18)} GRID`,
          `${formatUnits(balance, 18)} GRID`,
          {
            cause: error,
            details: "",
            metaMessages: ["Get GRID into this wallet (`gridspot wallet faucet` on a dev chain or testnet)."],
          },
        );
      }
      const hint = revertHint(decoded.errorName, decoded.args);
      return new ContractRevertError(what, decoded.errorName, decoded.args, {
        cause: error,
        details: "",
        ...(hint === undefined ? {} : { metaMessages: [hint] }),
      });
    }
    return new ContractRevertError(what, reverted.reason ?? reverted.signature ?? "an unknown error", [], {
      cause: error,
      details: "",
    });
  }

  const http = error.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError);
  if (http instanceof HttpRequestError || http instanceof TimeoutError) {
    const url = context.rpcUrl ?? (http instanceof HttpRequestError ? http.url : undefined);
    return new ChainUnreachableError(url === undefined ? "the RPC URL" : redactRpcUrl(url), {
      cause: error,
      details: http.shortMessage.replaceAll(url ?? "\u0000", url === undefined ? "" : redactRpcUrl(url)),
    });
  }
  return error;
}

function hasCause(error: ViemBaseError, type: abstract new (...args: never[]) => unknown): boolean {
  return error.walk((e) => e instanceof type) instanceof type;
}

function decodeRevert(
  reverted: ContractFunctionRevertedError,
): { errorName: string; args: readonly unknown[] } | undefined {
  if (reverted.data !== undefined && reverted.data.errorName !== "Error")
    return { errorName: reverted.data.errorName, args: reverted.data.args ?? [] };
  const raw = reverted.raw as Hex | undefined;
  if (raw === undefined || raw === "0x") return undefined;
  try {
    const d = decodeErrorResult({ abi: ERRORS_ABI, data: raw });
    return { errorName: d.errorName, args: (d.args ?? []) as readonly unknown[] };
  } catch {
    return undefined;
  }
}

const at = (unixS: unknown) => new Date(Number(unixS) * 1000).toISOString().replace(/\.\d+Z$/, "Z");

/** What to do about the custom errors a person runs into most. */
function revertHint(name: string, args: readonly unknown[]): string | undefined {
  switch (name) {
    case "ComputeToken_FaucetCooldown":
      return `The faucet gives to each account once per cooldown: try again after ${at(args[1])}.`;
    case "ComputeToken_FaucetCapReached":
      return "This account has had all the faucet gives; get GRID from someone who holds some.";
    case "ComputeToken_FaucetDisabled":
      return "This deployment has no faucet (only local chains and testnets have one).";
    case "Escrow_InsufficientBalance":
      return "Deposit more into the escrow first: `gridspot wallet deposit AMOUNT`.";
    case "Escrow_ChallengeWindowOpen":
      return `The provider may still redeem until ${at(args[1])}; finalize after that.`;
    case "ProviderRegistry_StillUnbonding":
      return `The stake unbonds until ${at(args[0])}; withdraw it after that.`;
    case "ProviderRegistry_StakeBelowMinimum":
      return "Stake at least the registry's minimum (`gridspot provider stake AMOUNT`).";
    case "ProviderRegistry_PeerIdTaken":
      return "Another account registered this peer id: use another data dir (a new peer key).";
    default:
      return undefined;
  }
}
