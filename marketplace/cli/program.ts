import { Command, type OutputConfiguration } from "commander";
import type { CommandResult } from "./commands/types.ts";
import type { GlobalFlags, GlobalOptions } from "./globalOptions.ts";

// Command modules load only when their command runs: help and usage errors stay fast.
const wallet_ = () => import("./commands/wallet.ts");
const market_ = () => import("./commands/market.ts");
const job_ = () => import("./commands/job.ts");
const channel_ = () => import("./commands/channel.ts");
const provider_ = () => import("./commands/provider.ts");
const chain_ = () => import("./commands/chain.ts");
const agent_ = () => import("./commands/agent.ts");
const jobDetached_ = () => import("./commands/jobDetached.ts");
const endpoint_ = () => import("./commands/endpoint.ts");

// The one definition of the command tree: commander parses the flags from it and writes every help
// page from it, so help cannot drift from what is parsed. Each action only resolves the options and
// calls a command function that returns data; `main.ts` prints. Help never reaches an action.

/** A command that runs outside marketplace/ (the provider node), added by the executable. */
export type ExternalCommand = (
  options: GlobalOptions,
  flags: Record<string, unknown>,
) => Promise<CommandResult | undefined>;

/** The provider node's own commands, which only bin/gridspot.ts can import. */
export type ExternalCommands = { "provider start"?: ExternalCommand; "provider reconcile"?: ExternalCommand };

/** Exit codes, as the help documents them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  error (or a job that did not complete, a check that failed)
  2  usage: a flag, an argument or a config file is wrong
  4  wallet: no wallet, a wrong password, or not enough GRID or gas
  8  pending: started, not finished (a channel close in its challenge window, a stake still unbonding)`;

const ENVIRONMENT_HELP = `Environment:
  GRIDSPOT_PASSWORD      opens the encrypted keystore <data dir>/keystore.json
  GRIDSPOT_PRIVATE_KEY   a raw key instead (development only)
  GRIDSPOT_RPC_URL, GRIDSPOT_DATA_DIR, GRIDSPOT_DEPLOYMENTS_DIR, GRIDSPOT_BOOTSTRAP (comma-separated),
  GRIDSPOT_LOCAL_NETWORK=1: the same as the flags
  GRIDSPOT_API_URL, GRIDSPOT_ADMIN_TOKEN: a provider node's operator API (provider status, redeem)`;

export type Invocation = {
  /** Set by the action that ran: what to print and the exit code. */
  result?: CommandResult | undefined;
  /** The job's own command line: everything after `--`. */
  jobCommand: string[];
};

const collect = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value.split(","),
];

/** Builds the whole `gridspot` command tree; actions store their result in `invocation`. */
export function buildProgram(
  invocation: Invocation,
  external: ExternalCommands,
  version: string,
  output: OutputConfiguration,
): Command {
  // Set before any command is added: subcommands copy these settings when they are created.
  const program = new Command("gridspot").exitOverride().configureOutput(output);
  program
    .description("GPU compute marketplace: offers and bids over libp2p, metered jobs, payment in GRID")
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "print help (never runs the command)")
    .helpCommand(false)
    .showSuggestionAfterError(true)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .option("--json", "print one JSON document on stdout (amounts as exact base-unit strings)")
    .option(
      "--rpc-url <url>",
      "the chain's JSON-RPC endpoint (default $GRIDSPOT_RPC_URL or http://127.0.0.1:8545)",
    )
    .option(
      "--data-dir <dir>",
      "where the wallet and the job store live (default ~/.gridspot/submitter or /provider)",
    )
    .option("--deployments <dir>", "the folder of <chainId>.json deployment files (default ./deployments)")
    .option(
      "--bootstrap <multiaddr>",
      "a peer to join the network through, /ip4/…/tcp/…/p2p/…; repeat it or separate with commas",
      collect,
    )
    .option("--local-network", "several nodes on one host or LAN: dial private and loopback addresses")
    .addHelpText("after", `\n${ENVIRONMENT_HELP}\n\n${EXIT_CODES_HELP}`);

  const act =
    (
      role: "submitter" | "provider",
      run: (
        options: GlobalOptions,
        flags: Record<string, unknown>,
        operands: string[],
      ) => Promise<CommandResult | undefined>,
    ) =>
    async (...args: unknown[]) => {
      const command = args.at(-1) as Command;
      const flags = command.optsWithGlobals() as Record<string, unknown> & GlobalFlags;
      const { resolveGlobalOptions } = await import("./globalOptions.ts");
      const options = resolveGlobalOptions(flags, role);
      invocation.result = await run(options, flags, command.args);
    };

  const group = (name: string, description: string) =>
    program.command(name).description(description).helpCommand(false);

  // wallet
  const wallet = group("wallet", "your keys, GRID and gas: create, balance, faucet, deposit, withdraw");
  wallet
    .command("create")
    .description("a new key in an encrypted keystore (GRIDSPOT_PASSWORD); the key is never printed")
    .action(act("submitter", async (o) => (await wallet_()).walletCreate(o)));
  wallet
    .command("balance")
    .description("GRID in the wallet, GRID free in the escrow, and gas")
    .action(act("submitter", async (o) => (await wallet_()).walletBalance(o)));
  wallet
    .command("faucet")
    .description("test GRID from the token's faucet (local chains and testnets); on a dev chain, gas too")
    .action(act("submitter", async (o) => (await wallet_()).walletFaucet(o)));
  wallet
    .command("deposit")
    .description("move GRID from the wallet into the escrow's free balance (jobs pay from there)")
    .argument("<amount>", "GRID, e.g. 2.5")
    .action(act("submitter", async (o, _f, [amount]) => (await wallet_()).walletDeposit(o, { amount })));
  wallet
    .command("withdraw")
    .description("move GRID from the escrow's free balance back to the wallet")
    .argument("[amount]", "GRID, e.g. 2.5 (default: all of the free balance)")
    .action(act("submitter", async (o, _f, [amount]) => (await wallet_()).walletWithdraw(o, { amount })));

  // market
  const market = group("market", "what the network offers now (no wallet needed): offers, prices, quote");
  const listening = (c: Command) =>
    c
      .option("--wait <seconds>", "listen for offers up to this long (default 3, at most 60)")
      .option("--min-offers <n>", "stop listening once this many offers are in")
      .option("--gpu-class <class>", "only this GPU class, e.g. nvidia-h100-80gb");
  listening(
    market.command("offers").description("every live offer: provider, class, free capacity, prices, billing"),
  ).action(act("submitter", async (o, f) => (await market_()).marketOffers(o, f)));
  listening(
    market.command("prices").description("per GPU class: providers, free GPUs, min / median / max price"),
  ).action(act("submitter", async (o, f) => (await market_()).marketPrices(o, f)));
  listening(market.command("quote").description("what an order would pay now, and who could take it"))
    .option("--gpus <n>", "GPUs (default 0)")
    .option("--cpus <n>", "CPU cores (default 1)")
    .option("--mem <mib>", "memory in MiB (default 512)")
    .option("--vram <mib>", "GPU memory per GPU in MiB")
    .option("--max-duration <seconds>", "the longest the job may run (default 3600)")
    .option(
      "--expected-duration <duration>",
      "how long you expect it to run (90, 15m, 2h): the cheapest offer is priced for it too",
    )
    .option("--max-price-gpu-hour <grid>", "the most to pay per GPU-hour")
    .action(act("submitter", async (o, f) => (await market_()).marketQuote(o, f)));

  // job
  const job = group(
    "job",
    "run and account for jobs: submit, list, status, logs, attach, cancel, outputs, invoice, verify",
  );
  job
    .command("submit")
    .description("order a job, take the best bid, run it, pay per debit note, fetch the outputs")
    .usage("[options] -- COMMAND [ARGS...]")
    .argument("[command...]", "the job's command line, after --")
    .option("--gpus <n>", "GPUs (default 0)")
    .option("--gpu-class <class>", "GPU class, e.g. nvidia-h100-80gb")
    .option("--cpus <n>", "CPU cores (default 1)")
    .option("--mem <mib>", "memory in MiB (default 512)")
    .option("--max-price-gpu-hour <grid>", "the most to pay per GPU-hour")
    .option("--max-requests <n>", "the most requests the job may bill (with --max-price-1k-requests)")
    .option("--max-price-1k-requests <grid>", "the most to pay per 1,000 requests")
    .option("--max-tokens <n>", "the most tokens the job may bill (with --max-price-1k-tokens)")
    .option("--max-price-1k-tokens <grid>", "the most to pay per 1,000 tokens")
    .option("--max-egress-gib <n>", "the most GiB sent back the job may bill (with --max-price-egress-gib)")
    .option("--max-price-egress-gib <grid>", "the most to pay per GiB sent back (logs and outputs)")
    .option("--budget <grid>", "the most the job may cost (default: the winning price for --max-duration)")
    .option("--max-duration <seconds>", "the longest the job may run (default 3600)")
    .option(
      "--expected-duration <duration>",
      "how long you expect it to run (90, 15m, 2h): bids are ranked by their cost for it, with their billing granularity and minimum charge (default the maximum)",
    )
    .option("--input <path>", "a file or a folder sent to the job's work dir (repeatable)", collectOne)
    .option(
      "--output <glob>",
      "files brought back from the work dir, e.g. 'out/*.pt' (repeatable)",
      collectOne,
    )
    .option("--env <name=value>", "an environment variable of the job (repeatable)", collectOne)
    .option("--image <image>", "run in this container image, e.g. ghcr.io/acme/trainer:1.2")
    .option("--entrypoint <program>", "replace the image's entrypoint (needs --image)")
    .option("--bid-window <ms>", "how long to collect bids, in milliseconds (default 1500)")
    .option("--explain", "say why providers that did not bid declined")
    .option("--out-dir <dir>", "where outputs land, under <dir>/<jobId>/ (default ./gridspot-out)")
    .option(
      "--redeem-wait <ms>",
      "how long to wait for the provider's redemption after the job (default 30000)",
    )
    .option(
      "--detach",
      "hand the job to the payer agent (`gridspot agent start`) and return its id once it is placed",
    )
    .option(
      "--max-suspended <duration>",
      "how long the provider keeps the job suspended while you are away (10m, 1h; default 10m with --detach; the provider's limit caps it)",
    )
    .action(
      act("submitter", async (o, f, operands) =>
        (await job_()).jobSubmit(o, f, { operands, command: invocation.jobCommand }),
      ),
    );
  job
    .command("list")
    .description("the jobs in your store, newest first")
    .action(act("submitter", async (o) => (await job_()).jobList(o)));
  job
    .command("status")
    .description("one job: status, provider, cost so far, time until its budget runs out")
    .argument("<id>", "the job id (see `gridspot job list`)")
    .action(act("submitter", async (o, _f, [id]) => (await job_()).jobStatus(o, { jobId: id })));
  job
    .command("logs")
    .description("what the job wrote to stdout and stderr (kept in the data dir)")
    .argument("<id>", "the job id")
    .option("-f, --follow", "keep printing as the job writes, until it ends")
    .action(
      act("submitter", async (o, f, [id]) =>
        (await jobDetached_()).jobLogs(o, { jobId: id, follow: f.follow === true }),
      ),
    );
  job
    .command("attach")
    .description("follow a running job's logs and cost until it ends; Ctrl-C leaves it running")
    .argument("<id>", "the job id")
    .action(act("submitter", async (o, _f, [id]) => (await jobDetached_()).jobAttach(o, { jobId: id })));
  job
    .command("cancel")
    .description("stop a running job; it is billed up to the stop and ends cancelled")
    .argument("<id>", "the job id")
    .action(act("submitter", async (o, _f, [id]) => (await jobDetached_()).jobCancel(o, { jobId: id })));
  job
    .command("outputs")
    .description("a finished job's output files: a detached job's are kept in the data dir until fetched")
    .argument("<id>", "the job id")
    .option("--out-dir <dir>", "copy them under <dir>/<jobId>/ (default ./gridspot-out)")
    .action(
      act("submitter", async (o, f, [id]) =>
        (await jobDetached_()).jobOutputs(o, {
          jobId: id,
          outDir: typeof f.outDir === "string" ? f.outDir : undefined,
        }),
      ),
    );
  job
    .command("invoice")
    .description("the job's bill: one line per meter, traced to the notes, vouchers and redemptions")
    .argument("<id>", "the job id")
    .option("--csv", "one CSV row per invoice line, in base units")
    .action(
      act("submitter", async (o, f, [id]) =>
        (await job_()).jobInvoice(o, { jobId: id, csv: f.csv === true }),
      ),
    );
  job
    .command("verify")
    .description("every check of the job's billing trail; exit 1 when one fails")
    .argument("<id>", "the job id")
    .action(act("submitter", async (o, _f, [id]) => (await job_()).jobVerify(o, { jobId: id })));

  // channel
  const channel = group("channel", "your payment channels to providers: list, close");
  channel
    .command("list")
    .description("your channels on the chain: provider, funds, redeemed, status, deadline")
    .action(act("submitter", async (o) => (await channel_()).channelList(o)));
  channel
    .command("close")
    .description("ask to close (the provider may still redeem during the challenge window), then finalize")
    .argument("<id>", "the channel id (see `gridspot channel list`)")
    .action(act("submitter", async (o, _f, [id]) => (await channel_()).channelClose(o, { channelId: id })));

  // provider
  const provider = group(
    "provider",
    "run a provider node: start, register, stake, unstake, withdraw-stake, status, redeem, reconcile",
  );
  const external_ = (name: keyof ExternalCommands) => (o: GlobalOptions, f: Record<string, unknown>) => {
    const run = external[name];
    if (run === undefined) throw new Error(`${name} is not available in this build`);
    return run(o, f);
  };
  provider
    .command("start")
    .description("run the provider node until SIGINT/SIGTERM (registers and stakes on first start)")
    .option("--config <file>", "provider.json (every key optional; flags and GRIDSPOT_* override it)")
    .option("--listen <multiaddr>", "a libp2p listen address (repeatable)", collectOne)
    .option("--api-port <port>", "the operator API's port (default 8787)")
    .action(act("provider", external_("provider start")));
  provider
    .command("register")
    .description("register this node's peer id in the ProviderRegistry, staking GRID")
    .option("--stake <grid>", "how much to stake (default the registry's minimum)")
    .option("--metadata <uri>", "a metadata URI for the registry (default none)")
    .action(act("provider", async (o, f) => (await provider_()).providerRegister(o, f)));
  provider
    .command("stake")
    .description("bond more GRID to your registration")
    .argument("<amount>", "GRID, e.g. 100")
    .action(act("provider", async (o, _f, [amount]) => (await provider_()).providerStake(o, { amount })));
  provider
    .command("unstake")
    .description("start unbonding part of your stake (it can be withdrawn after the unbonding period)")
    .argument("<amount>", "GRID, e.g. 50")
    .action(act("provider", async (o, _f, [amount]) => (await provider_()).providerUnstake(o, { amount })));
  provider
    .command("withdraw-stake")
    .description("take back the unbonded stake once its unbonding period is over")
    .action(act("provider", async (o) => (await provider_()).providerWithdrawStake(o)));
  provider
    .command("status")
    .description("a running node's state, from its operator API")
    .option("--api <url>", "the operator API (default $GRIDSPOT_API_URL or http://127.0.0.1:8787)")
    .action(act("provider", async (o, f) => (await provider_()).providerStatus(o, f)));
  provider
    .command("redeem")
    .description("redeem the node's pending vouchers now (GRIDSPOT_ADMIN_TOKEN)")
    .option("--api <url>", "the operator API (default $GRIDSPOT_API_URL or http://127.0.0.1:8787)")
    .action(act("provider", async (o, f) => (await provider_()).providerRedeem(o, f)));
  provider
    .command("reconcile")
    .description("compare the node's ledger, notes, vouchers and the chain per channel; changes nothing")
    .option("--config <file>", "provider.json, for its data dir and chain")
    .option("--check", "exit 1 when any channel has a difference")
    .action(act("provider", external_("provider reconcile")));

  // agent
  const agent = group(
    "agent",
    "the payer agent: runs detached jobs, signs their vouchers, keeps their logs and outputs",
  );
  agent
    .command("start")
    .description(
      "start the agent in the background (pid file and log in the data dir); it resumes running jobs",
    )
    .option("--foreground", "run in this process until SIGINT/SIGTERM (for a service manager)")
    .option(
      "--gateway-port <port>",
      "the endpoint gateway's port on 127.0.0.1 (0: any free one; default GRIDSPOT_GATEWAY_PORT or 8788)",
    )
    .action(
      act("submitter", async (o, f) =>
        (await agent_()).agentStart(o, {
          foreground: f.foreground === true,
          gatewayPort: typeof f.gatewayPort === "string" ? f.gatewayPort : undefined,
        }),
      ),
    );
  agent
    .command("stop")
    .description("stop the agent; its jobs wait suspended on their providers until it starts again")
    .action(act("submitter", async (o) => (await agent_()).agentStop(o)));
  agent
    .command("status")
    .description("whether the agent runs, its pid, and the jobs it runs")
    .action(act("submitter", async (o) => (await agent_()).agentStatus(o)));

  // endpoint
  const endpoint = group(
    "endpoint",
    "inference endpoints through the payer agent's gateway: deploy, list, status, logs, delete, verify",
  );
  endpoint
    .command("deploy")
    .description(
      "serve an image (or a command) over HTTP from 1..8 providers, billed per busy GPU time, request and token",
    )
    .usage("[options] -- COMMAND [ARGS...]")
    .argument("[command...]", "the replica's command line (for an image: its arguments), after --")
    .option("--image <image>", "the container image that serves HTTP, e.g. ghcr.io/acme/llm:1.0")
    .option("--port <port>", "the port the replica serves HTTP on (default 8000)")
    .option("--gpus <n>", "GPUs per replica (default 0)")
    .option("--gpu-class <class>", "GPU class, e.g. nvidia-h100-80gb")
    .option("--cpus <n>", "CPU cores per replica (default 1)")
    .option("--mem <mib>", "memory per replica in MiB (default 512)")
    .option("--min-replicas <n>", "replicas kept warm per provider, billed as allocated time (default 0)")
    .option(
      "--max-replicas <n>",
      "the most replicas per provider; each provider reserves this many (default 1)",
    )
    .option(
      "--idle-timeout <duration>",
      "a replica idle this long stops, down to --min-replicas (30s, 5m; default 5m)",
    )
    .option(
      "--cold-start-timeout <duration>",
      "the longest a request waits for a replica to start (default 120s)",
    )
    .option(
      "--health-path <path>",
      "polled until it answers below 500 before a replica serves (default /health)",
    )
    .option(
      "--token-header <name>",
      "count tokens from this response header (default: the answer's `usage` object)",
    )
    .option("--providers <n>", "place it with this many providers, 1 to 8 (default 1)")
    .option("--max-price-gpu-hour <grid>", "the most to pay per busy GPU-hour")
    .option("--max-price-1k-requests <grid>", "the most to pay per 1,000 requests")
    .option(
      "--max-requests <n>",
      "the most requests each provider may bill (default: what --budget buys at --max-price-1k-requests, at least 10^9)",
    )
    .option("--max-price-1k-tokens <grid>", "the most to pay per 1,000 tokens")
    .option(
      "--max-tokens <n>",
      "the most tokens each provider may bill (default: what --budget buys at --max-price-1k-tokens, at least 10^9)",
    )
    .option(
      "--budget <grid>",
      "the most the endpoint may cost in all, split evenly between its providers (required)",
    )
    .option("--max-duration <seconds>", "the longest the endpoint serves (default 86400)")
    .option("--env <name=value>", "an environment variable of the replicas (repeatable)", collectOne)
    .option("--bid-window <ms>", "how long to collect bids, in milliseconds (default 1500)")
    .option("--explain", "say why providers that did not bid declined")
    .option(
      "--max-suspended <duration>",
      "how long a provider keeps the endpoint suspended while the agent is away (default 10m; the provider's limit caps it)",
    )
    .action(
      act("submitter", async (o, f, operands) =>
        (await endpoint_()).endpointDeploy(o, f, { operands, command: invocation.jobCommand }),
      ),
    );
  endpoint
    .command("list")
    .description("the endpoints deployed from this data dir: status, providers routed, requests, tokens, URL")
    .action(act("submitter", async (o) => (await endpoint_()).endpointList(o)));
  endpoint
    .command("status")
    .description("one endpoint: per provider its job, amount signed, billed vs counted, routed or why not")
    .argument("<id>", "the endpoint id (see `gridspot endpoint list`)")
    .action(
      act("submitter", async (o, _f, [id]) => (await endpoint_()).endpointStatus(o, { endpointId: id })),
    );
  endpoint
    .command("logs")
    .description("what each of its jobs' replicas wrote to stdout and stderr (kept in the data dir)")
    .argument("<id>", "the endpoint id")
    .option("-f, --follow", "keep printing as they write, until they end")
    .action(
      act("submitter", async (o, f, [id]) =>
        (await endpoint_()).endpointLogs(o, { endpointId: id, follow: f.follow === true }),
      ),
    );
  endpoint
    .command("delete")
    .description("stop serving it: each provider is told to stop and bills up to the stop")
    .argument("<id>", "the endpoint id")
    .action(
      act("submitter", async (o, _f, [id]) => (await endpoint_()).endpointDelete(o, { endpointId: id })),
    );
  endpoint
    .command("verify")
    .description("every check of each of its jobs' billing trails; exit 1 when one fails")
    .argument("<id>", "the endpoint id")
    .action(
      act("submitter", async (o, _f, [id]) => (await endpoint_()).endpointVerify(o, { endpointId: id })),
    );

  // chain
  const chain = group("chain", "the contracts: deploy");
  chain
    .command("deploy")
    .description("deploy the three contracts with GRIDSPOT_PRIVATE_KEY, recorded in deployments/")
    .option("--faucet", "give the token a faucet (local chains and testnets)")
    .action(act("submitter", async (o, f) => (await chain_()).chainDeploy(o, { faucet: f.faucet === true })));

  return program;
}

function collectOne(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Every command of the tree as `group command`, with its usage line: for the README's reference. */
export function listCommands(program: Command): { name: string; usage: string; description: string }[] {
  return program.commands.flatMap((group) =>
    group.commands.map((c) => ({
      name: `${group.name()} ${c.name()}`,
      usage: `gridspot ${group.name()} ${c.name()} ${c.usage()}`.trimEnd(),
      description: c.description(),
    })),
  );
}
