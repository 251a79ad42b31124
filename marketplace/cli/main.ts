import { InsufficientFundsError } from "../client/ensureChannel.ts";
import { BaseError } from "../errors/base.ts";
import { UsageError } from "../errors/usage.ts";
import { toJson } from "../messages/json.ts";
import { KeystoreError } from "../wallet/keystore.ts";
import { chainDeploy } from "./commands/chain.ts";
import { jobInvoice, jobList, jobOptions, jobStatus, jobSubmit, jobVerify } from "./commands/job.ts";
import { marketOffers, marketPrices, marketQuote } from "./commands/market.ts";
import { providerApi } from "./commands/provider.ts";
import type { CommandResult } from "./commands/types.ts";
import { walletBalance, walletCreate, walletDeposit, walletFaucet } from "./commands/wallet.ts";

const HELP = `gridspot — GPU compute marketplace

Usage: gridspot <group> <command> [options]

  wallet   create | balance | faucet | deposit AMOUNT
  job      submit [--gpus N] [--gpu-class C] [--cpus N] [--mem MiB] [--max-price-gpu-hour X]
                  [--budget X] [--max-duration S] [--input FILE]... [--output GLOB]... [--explain] -- COMMAND [ARGS]
           list | status ID | invoice ID [--csv] | verify ID
  market   offers [--gpu-class C] | prices | quote --gpus N [--gpu-class C] [--cpus N] [--mem MiB]
                  [--max-duration S] [--max-price-gpu-hour X]
                  (all three: [--wait S] listen up to S seconds, default 3; [--min-offers N])
  provider start --config FILE | status | redeem | reconcile [--check]
  chain    deploy [--faucet]

Every command takes --json (one JSON document on stdout), --rpc-url URL, --data-dir DIR,
--deployments DIR, --bootstrap MULTIADDR. Keys: GRIDSPOT_PRIVATE_KEY (development) or an encrypted
keystore opened with GRIDSPOT_PASSWORD. Spend caps and budget alerts: <data dir>/policy.json.
Exit codes: 0 ok, 1 error (or a failed check), 2 usage, 4 wallet.`;

/** Commands that live outside marketplace/ (the provider node), added by the executable. */
export type ExtraCommands = Record<string, (argv: string[]) => Promise<CommandResult | undefined>>;

/** Runs one CLI invocation and returns its exit code. Printing happens only here. */
export async function main(argv: string[], extra: ExtraCommands = {}): Promise<number> {
  const [group, command, ...rest] = argv;
  // Everything after `--` belongs to the job's command line, its own `--json` included.
  const end = argv.indexOf("--");
  const json = (end === -1 ? argv : argv.slice(0, end)).includes("--json");
  try {
    const own = extra[`${group} ${command ?? ""}`];
    const result = own === undefined ? await dispatch(group, command, rest) : await own(rest);
    if (result === undefined) return 0;
    process.stdout.write(json ? `${toJson(result.json)}\n` : `${result.text}\n`);
    return result.exitCode ?? 0;
  } catch (error) {
    const code = exitCodeOf(error);
    // Usage mistakes get their message; a stack trace only for what we did not foresee.
    const message =
      error instanceof BaseError || isParseArgsError(error)
        ? (error as Error).message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    if (json)
      process.stdout.write(
        `${toJson({ error: { name: (error as Error).name, message: error instanceof BaseError ? error.shortMessage : String((error as Error).message) } })}\n`,
      );
    process.stderr.write(`gridspot: ${message}\n`);
    return code;
  }
}

async function dispatch(
  group: string | undefined,
  command: string | undefined,
  rest: string[],
): Promise<CommandResult | undefined> {
  if (group === undefined || group === "help" || group === "--help" || group === "-h")
    return { json: { help: HELP }, text: HELP };
  const simple = () => jobOptions(rest).options;
  switch (`${group} ${command ?? ""}`) {
    case "wallet create":
      return walletCreate(simple());
    case "wallet balance":
      return walletBalance(simple());
    case "wallet faucet":
      return walletFaucet(simple());
    case "wallet deposit": {
      const { options, positionals } = jobOptions(rest);
      return walletDeposit(options, positionals[0]);
    }
    case "job submit":
      return jobSubmit(rest);
    case "job list":
      return jobList(simple());
    case "job status": {
      const { options, positionals } = jobOptions(rest);
      return jobStatus(options, positionals[0]);
    }
    case "job invoice":
      return jobInvoice(rest);
    case "job verify": {
      const { options, positionals } = jobOptions(rest);
      return jobVerify(options, positionals[0]);
    }
    case "market offers":
      return marketOffers(rest);
    case "market prices":
      return marketPrices(rest);
    case "market quote":
      return marketQuote(rest);
    case "provider status":
      return providerApi("status", rest);
    case "provider redeem":
      return providerApi("redeem", rest);
    case "chain deploy":
      return chainDeploy(rest);
    default:
      throw new UsageError(`Unknown command "${[group, command].filter(Boolean).join(" ")}"`, {
        details: HELP,
      });
  }
}

function isParseArgsError(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code?.toString().startsWith("ERR_PARSE_ARGS") === true;
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return 2;
  if (error instanceof KeystoreError || error instanceof InsufficientFundsError) return 4;
  if (isParseArgsError(error)) return 2;
  return 1;
}
