import { BaseError, type BaseErrorParameters } from "../errors/base.ts";

/** The RPC endpoint did not answer (refused, timed out, not JSON-RPC). The URL shown is redacted. */
export class ChainUnreachableError extends BaseError {
  override name = "ChainUnreachableError";
  constructor(redactedUrl: string, parameters: BaseErrorParameters = {}) {
    super(`Cannot reach the JSON-RPC endpoint at ${redactedUrl}.`, {
      metaMessages: ["Check the RPC URL and that the node is running and reachable from here."],
      ...parameters,
    });
  }
}

/** A private key that is not 32 bytes of hex, or not a valid secp256k1 key. Never shows the key. */
export class InvalidPrivateKeyError extends BaseError {
  override name = "InvalidPrivateKeyError";
  constructor(reason: string, parameters: BaseErrorParameters = {}) {
    super(`Invalid private key: ${reason}.`, {
      metaMessages: ["A private key is 32 bytes written as 64 hex characters, with or without a 0x prefix."],
      ...parameters,
    });
  }
}

/** An action that sends transactions was given no wallet client. */
export class WalletRequiredError extends BaseError {
  override name = "WalletRequiredError";
  constructor(action: string) {
    super(`${action} needs a wallet: pass a private key when creating the chain clients.`);
  }
}

/** A deployment transaction failed or produced no contract. */
export class DeploymentFailedError extends BaseError {
  override name = "DeploymentFailedError";
  constructor(contract: string, parameters: BaseErrorParameters = {}) {
    super(`Deploying ${contract} failed.`, parameters);
  }
}

/** No deployment file exists for the chain. */
export class DeploymentNotFoundError extends BaseError {
  override name = "DeploymentNotFoundError";
  constructor(chainId: number, file: string) {
    super(`No gridspot deployment for chain ${chainId}: ${file} does not exist.`, {
      metaMessages: [
        "Deploy the contracts first, e.g. `npm run deploy -- --network <name>`",
        "(or `npm run deploy -- --network rpc` with GRIDSPOT_RPC_URL and GRIDSPOT_DEPLOYER_KEY set).",
      ],
    });
  }
}

/** A deployment file that cannot be read, is not JSON, or has a missing or invalid field. */
export class InvalidDeploymentError extends BaseError {
  override name = "InvalidDeploymentError";
  constructor(file: string, problem: string, parameters: BaseErrorParameters = {}) {
    super(`Invalid deployment file ${file}: ${problem}`, parameters);
  }
}

/** The RPC URL is not an http(s) URL. */
export class InvalidRpcUrlError extends BaseError {
  override name = "InvalidRpcUrlError";
  constructor(redactedUrl: string) {
    super(`Invalid RPC URL ${redactedUrl}: expected an http:// or https:// URL.`);
  }
}

/** Deployment settings the contracts would reject, caught before any transaction is sent. */
export class InvalidDeployParametersError extends BaseError {
  override name = "InvalidDeployParametersError";
  constructor(problem: string) {
    super(`Invalid deployment parameters: ${problem}`);
  }
}

/** The deployment file is for another chain than the clients are connected to. */
export class ChainMismatchError extends BaseError {
  override name = "ChainMismatchError";
  constructor(expected: number, actual: number) {
    super(`The deployment is for chain ${expected}, but the clients are connected to chain ${actual}.`);
  }
}

/** The account has no native token (ETH) to pay for gas. */
export class NoGasError extends BaseError {
  override name = "NoGasError";
  readonly address: string | undefined;
  constructor(
    address: string | undefined,
    chainId: number | undefined,
    parameters: BaseErrorParameters = {},
  ) {
    const who = address === undefined ? "The wallet" : `The wallet ${address}`;
    super(`${who} has not enough ETH to pay for gas${chainId === undefined ? "" : ` on chain ${chainId}`}.`, {
      metaMessages: [
        chainId !== undefined && isDevChainId(chainId)
          ? "On this local dev chain, `gridspot wallet faucet` gives the wallet gas (and test GRID)."
          : `Send some of the chain's native token (ETH) to ${address ?? "the wallet"} (on a testnet, from its public faucet), then try again.`,
      ],
      ...parameters,
    });
    this.address = address;
  }
}

/** A transfer of GRID that the token refused: the account holds less than it needed. */
export class NotEnoughGridError extends BaseError {
  override name = "NotEnoughGridError";
  constructor(what: string, needed: string, held: string, parameters: BaseErrorParameters = {}) {
    super(`Not enough GRID to ${what}: needed ${needed}, held ${held}.`, parameters);
  }
}

/** The deployment file names an address where this chain has no contract: a reset or another chain. */
export class StaleDeploymentError extends BaseError {
  override name = "StaleDeploymentError";
  constructor(contract: string, address: string, chainId: number, parameters: BaseErrorParameters = {}) {
    super(`There is no contract code at ${address} (${contract}) on chain ${chainId}.`, {
      metaMessages: [
        "The deployments file is stale: the chain was reset, or the file is from another chain.",
        "Redeploy (`npm run deploy`, or `gridspot chain deploy`), or point --deployments at the right folder.",
      ],
      ...parameters,
    });
  }
}

/** A contract call reverted with one of the contracts' custom errors, decoded. */
export class ContractRevertError extends BaseError {
  override name = "ContractRevertError";
  readonly errorName: string;
  readonly args: readonly unknown[];
  constructor(
    what: string,
    errorName: string,
    args: readonly unknown[],
    parameters: BaseErrorParameters = {},
  ) {
    super(`${what} was refused by the contract: ${errorName}(${args.map(String).join(", ")}).`, parameters);
    this.errorName = errorName;
    this.args = args;
  }
}

/** Chain ids of local development chains (anvil, Hardhat, Ganache), where dev accounts hold ETH. */
export function isDevChainId(chainId: number): boolean {
  return chainId === 31337 || chainId === 1337;
}
