import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  defineChain,
  http,
  type LocalAccount,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { anvil, arbitrumSepolia, baseSepolia, sepolia } from "viem/chains";
import { ChainUnreachableError, InvalidRpcUrlError } from "./errors.ts";
import { parsePrivateKey } from "./privateKey.ts";
import { redactRpcUrl } from "./redactRpcUrl.ts";

/** Default timeout of one JSON-RPC request. */
export const DEFAULT_RPC_TIMEOUT_MS = 10_000;

/** Chains viem already describes; any other chain id gets a minimal definition. */
const KNOWN_CHAINS: readonly Chain[] = [sepolia, baseSepolia, arbitrumSepolia, anvil];

export type CreateChainClientsParameters = {
  /** The JSON-RPC endpoint (http or https). It may hold an API key: it is never logged. */
  rpcUrl: string;
  /** The key that signs transactions; without it (or `account`) only reads are possible. */
  privateKey?: string | undefined;
  /** An account that signs transactions, e.g. opened from an encrypted keystore. */
  account?: LocalAccount | undefined;
  /** Timeout of each JSON-RPC request, in milliseconds. */
  timeoutMs?: number | undefined;
};

/** Clients bound to one chain. Hardhat's viem clients fit this type too. */
export type ChainClients = {
  chain: Chain;
  publicClient: PublicClient<Transport, Chain>;
  walletClient?: WalletClient<Transport, Chain, Account>;
};

/** Chain clients that can send transactions. */
export type WalletChainClients = ChainClients & { walletClient: WalletClient<Transport, Chain, Account> };

export type CreateChainClientsReturnType<parameters extends CreateChainClientsParameters> =
  parameters["privateKey"] extends string
    ? WalletChainClients
    : parameters["account"] extends LocalAccount
      ? WalletChainClients
      : ChainClients;

/**
 * Connects to a JSON-RPC endpoint over HTTP: asks its chain id, describes the chain (viem's own
 * description for the testnets and the local chain id, a minimal one otherwise) and returns a public
 * client and, given a private key, a wallet client. The key is checked before any network call.
 */
export async function createChainClients<const parameters extends CreateChainClientsParameters>(
  parameters: parameters,
): Promise<CreateChainClientsReturnType<parameters>> {
  const { rpcUrl, privateKey, timeoutMs = DEFAULT_RPC_TIMEOUT_MS } = parameters;
  const redacted = redactRpcUrl(rpcUrl);
  if (!/^https?:\/\//i.test(rpcUrl) || redacted === "<invalid URL>") throw new InvalidRpcUrlError(redacted);
  const account =
    privateKey === undefined ? parameters.account : privateKeyToAccount(parsePrivateKey(privateKey));

  const transport = http(rpcUrl, { timeout: timeoutMs, retryCount: 1 });
  let chainId: number;
  try {
    chainId = await createPublicClient({ transport }).getChainId();
  } catch (error) {
    throw new ChainUnreachableError(redacted, { details: describeFailure(error, rpcUrl, redacted) });
  }

  const chain = chainFor(chainId, rpcUrl);
  const publicClient = createPublicClient({ chain, transport: http(rpcUrl, { timeout: timeoutMs }) });
  if (account === undefined) return { chain, publicClient } as CreateChainClientsReturnType<parameters>;
  const walletClient = createWalletClient({
    account,
    chain,
    transport: http(rpcUrl, { timeout: timeoutMs }),
  });
  return { chain, publicClient, walletClient } as CreateChainClientsReturnType<parameters>;
}

/** viem's description of a known chain, pointed at this endpoint; a minimal one otherwise. */
function chainFor(chainId: number, rpcUrl: string): Chain {
  const rpcUrls = { default: { http: [rpcUrl] } } as const;
  const known = KNOWN_CHAINS.find((chain) => chain.id === chainId);
  if (known !== undefined) return { ...known, rpcUrls };
  return defineChain({
    id: chainId,
    name: `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls,
  });
}

/** The innermost failure's message (e.g. `connect ECONNREFUSED`), with the URL redacted. */
function describeFailure(error: unknown, rpcUrl: string, redacted: string): string {
  const messages: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    const short = (current as { shortMessage?: unknown }).shortMessage;
    const code = (current as { code?: unknown }).code;
    const text = (typeof short === "string" ? short : (current.message.split("\n")[0] ?? "")).replace(
      /\.$/,
      "",
    );
    if (text !== "") messages.push(typeof code === "string" ? `${text} (${code})` : text);
    current = current.cause;
  }
  return messages.join(": ").replaceAll(rpcUrl, redacted);
}
