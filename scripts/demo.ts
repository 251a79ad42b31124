// npm run demo [-- --json] [-- --rpc-url URL --private-key KEY] [-- --runtime auto|docker|process]
//
// The main job end to end on real parts: a chain over JSON-RPC (an embedded anvil unless --rpc-url),
// the contracts deployed, three provider nodes as separate processes on loopback with different
// (recorded) GPUs and prices, three jobs submitted through the CLI's own client code, metered,
// settled with vouchers, redeemed on-chain, and a summary whose `conserved` is computed from
// on-chain balances. Progress goes to stderr; with --json the last stdout line is one JSON object.
//
// Runtimes: with Docker reachable (`--runtime docker`, or `auto` when its socket answers) the CPU job
// runs in a container of a busybox image built here (no registry needed); GPU jobs run in containers
// only where Docker can hand GPUs over (the NVIDIA Container Toolkit), else as sandboxed processes
// with the fake nvidia-smi's GPUs. Without Docker (`--runtime process`) every job is a process, in
// bubblewrap when it works, else unsandboxed (said on stderr: the demo's jobs are its own).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { type Address, type Hex, parseEther, parseUnits } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { computeEscrowAbi, computeTokenAbi } from "../marketplace/chain/artifacts.generated.ts";
import { createChainClients } from "../marketplace/chain/clients.ts";
import { deployGridspot } from "../marketplace/chain/deploy.ts";
import { writeDeployment } from "../marketplace/chain/deployments.ts";
import { formatGrid } from "../marketplace/cli/format.ts";
import { createSubmitter } from "../marketplace/client/createSubmitter.ts";
import { submitJob } from "../marketplace/client/submitJob.ts";
import { toJson } from "../marketplace/messages/json.ts";
import { chooseDemoRuntime } from "./lib/chooseDemoRuntime.ts";
import { startLocalChain } from "./lib/localChain.ts";
import { type ProviderProcess, startProviderProcess } from "./lib/providerProcess.ts";

const GRID = 10n ** 18n;
const HOUR_MS = 3_600_000n;
const log = (message: string) => process.stderr.write(`demo: ${message}\n`);

const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    "rpc-url": { type: "string" },
    "private-key": { type: "string" },
    "gas-fund": { type: "string", default: "0.05" },
    runtime: { type: "string", default: "auto" },
  },
});
if (!["auto", "docker", "process"].includes(values.runtime)) {
  process.stderr.write(`demo: --runtime must be auto, docker or process, got "${values.runtime}"\n`);
  process.exit(2);
}

const PROVIDERS = [
  { gpuProfile: "h100x2", gpuClass: "nvidia-h100-80gb", gpuHour: 3n * GRID, cpuCoreHour: GRID / 20n },
  { gpuProfile: "rtx4090", gpuClass: "nvidia-rtx4090-24gb", gpuHour: GRID / 2n, cpuCoreHour: GRID / 25n },
  { gpuProfile: "a100x8", gpuClass: "nvidia-a100-40gb", gpuHour: 2n * GRID, cpuCoreHour: GRID / 50n },
] as const;

const runtime = await chooseDemoRuntime(values.runtime as "auto" | "docker" | "process");
log(runtime.why);

const work = await mkdtemp(join(tmpdir(), "gridspot-demo-"));
const cleanups: (() => Promise<void>)[] = [async () => rm(work, { recursive: true, force: true })];
try {
  // 1. A chain and funded accounts.
  let rpcUrl: string;
  let deployerKey: Hex;
  let accountKeys: Hex[];
  if (values["rpc-url"] === undefined) {
    const chain = await startLocalChain();
    cleanups.unshift(() => chain.stop());
    rpcUrl = chain.rpcUrl;
    [deployerKey, ...accountKeys] = chain.privateKeys as [Hex, ...Hex[]];
    log(`local chain ${chain.chainId} at ${rpcUrl}`);
  } else {
    if (values["private-key"] === undefined)
      throw new Error("--rpc-url needs --private-key (the account that pays for the demo)");
    rpcUrl = values["rpc-url"];
    deployerKey = values["private-key"] as Hex;
    accountKeys = Array.from({ length: 4 }, () => generatePrivateKey());
  }
  const deployer = await createChainClients({ rpcUrl, privateKey: deployerKey });
  const chainId = deployer.chain.id;
  const wait = async (hash: Hex) => {
    const receipt = await deployer.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
  };
  if (values["rpc-url"] !== undefined) {
    const gas = parseEther(values["gas-fund"]);
    for (const key of accountKeys)
      await wait(
        await deployer.walletClient.sendTransaction({ to: privateKeyToAccount(key).address, value: gas }),
      );
    log(`funded ${accountKeys.length} demo accounts with ${values["gas-fund"]} native each for gas`);
  }

  // 2. The contracts.
  const deployment = await deployGridspot(deployer, {
    token: { faucet: true },
    escrow: { challengePeriodS: 3600, feeBps: 100 },
    onProgress: log,
  });
  const deploymentsDir = join(work, "deployments");
  await writeDeployment(deploymentsDir, deployment);
  const { computeToken: token, computeEscrow: escrow } = deployment.contracts;
  const feeRecipient = deployment.parameters.escrow.feeRecipient;
  const providerKeys = accountKeys.slice(0, 3);
  const payerKey = accountKeys[3] as Hex;
  const payer = privateKeyToAccount(payerKey).address;
  for (const key of providerKeys) {
    await wait(
      await deployer.walletClient.writeContract({
        address: token,
        abi: computeTokenAbi,
        functionName: "transfer",
        args: [privateKeyToAccount(key).address, 200n * GRID],
      }),
    );
  }
  await wait(
    await deployer.walletClient.writeContract({
      address: token,
      abi: computeTokenAbi,
      functionName: "transfer",
      args: [payer, 100n * GRID],
    }),
  );

  // 3. Three provider nodes, separate processes.
  log("starting 3 provider nodes");
  const providers: ProviderProcess[] = await Promise.all(
    PROVIDERS.map((spec, i) =>
      startProviderProcess({
        dataDir: join(work, `provider-${i}`),
        privateKey: providerKeys[i] as Hex,
        rpcUrl,
        deploymentsDir,
        gpuProfile: spec.gpuProfile,
        config: {
          pricing: {
            gpuHour: { [spec.gpuClass]: spec.gpuHour.toString() },
            cpuCoreHour: spec.cpuCoreHour.toString(),
            memGiBHour: (GRID / 200n).toString(),
          },
          receipts: { intervalMs: 1_000, graceIntervals: 2 },
          limits: { cpuCores: 2, memMiB: 4096 },
          runtime: runtime.providerRuntime,
        },
      }),
    ),
  );
  for (const p of providers) cleanups.unshift(() => p.stop());
  for (const [i, p] of providers.entries())
    log(`provider ${p.info.address} (${PROVIDERS[i]?.gpuClass}) at ${p.info.multiaddrs[0]}`);

  const watched: Address[] = [payer, ...providers.map((p) => p.info.address), escrow, feeRecipient];
  const balances = async () => {
    const out: Record<string, bigint> = {};
    for (const a of watched)
      out[a] = await deployer.publicClient.readContract({
        address: token,
        abi: computeTokenAbi,
        functionName: "balanceOf",
        args: [a],
      });
    return out;
  };
  const before = await balances();

  // 4. Jobs, through the CLI's client code.
  const submitter = await createSubmitter(
    {
      dataDir: join(work, "submitter"),
      rpcUrl,
      deploymentsDir,
      bootstrap: providers.map((p) => p.info.multiaddrs[0] as string),
      localNetwork: true,
    },
    privateKeyToAccount(payerKey),
  );
  cleanups.unshift(() => submitter.close());
  const burn = (ms: number, file: string) =>
    `const t=Date.now();let n=0;while(Date.now()-t<${ms})n++;require("node:fs").writeFileSync(${JSON.stringify(file)},"loops "+n+"\\n");console.log("burned",${ms},"ms")`;
  // The same work in a container: busybox's shell spins for the time, then writes the same file.
  const burnInShell = (ms: number, file: string) =>
    `timeout ${ms / 1000} sh -c 'while :; do :; done'; echo "loops spun for ${ms} ms" > ${file}; echo burned ${ms} ms`;
  const JOBS = [
    { name: "H100 job", gpus: 1, gpuClass: "nvidia-h100-80gb", ms: 3000 },
    { name: "cheapest GPU", gpus: 1, gpuClass: undefined, ms: 3000 },
    { name: "CPU only", gpus: 0, gpuClass: undefined, ms: 2500 },
  ];
  const inContainer = (gpus: number) =>
    runtime.image !== undefined && (gpus === 0 || runtime.gpusInContainers);
  const jobs = [];
  for (const job of JOBS) {
    log(`submitting: ${job.name}`);
    const result = await submitJob(submitter, {
      requirements: {
        gpus: job.gpus,
        ...(job.gpuClass === undefined ? {} : { gpuClass: job.gpuClass }),
        cpuCores: 1,
        memMiB: 512,
        maxDurationS: 120,
      },
      maxRates: [{ meter: "gpu_ms", price: 5n * GRID, per: HOUR_MS }],
      budget: parseUnits("1", 18),
      spec: inContainer(job.gpus)
        ? {
            image: runtime.image,
            command: "sh",
            args: ["-c", burnInShell(job.ms, "result.txt")],
            env: {},
            outputs: ["result.txt"],
          }
        : {
            command: process.execPath,
            args: ["-e", burn(job.ms, "result.txt")],
            env: {},
            outputs: ["result.txt"],
          },
      inputs: [],
      outputDir: join(work, "out"),
      bidWindowMs: 1500,
      explain: true,
      redeemWaitMs: 30_000,
      events: {
        onProgress: (m) => log(`  ${m}`),
        onLog: (_s, data) => log(`  job: ${data.toString().trimEnd()}`),
        onNote: (note) => log(`  note ${note.seq}: ${formatGrid(note.jobAmount)}`),
      },
    });
    log(
      `  ${result.status}: ${formatGrid(result.amount)} to ${result.provider}, redeemed in ${result.redeemTx ?? "(none)"}`,
    );
    jobs.push({
      id: result.jobId,
      name: job.name,
      provider: result.provider,
      gpuClass: result.gpuClass ?? null,
      status: result.status,
      runtime: result.runtime ?? null,
      imageDigest: result.imageDigest ?? null,
      usage: result.usage,
      amount: result.amount,
      vouchers: result.vouchers.length,
      redeemTx: result.redeemTx,
    });
  }

  // 5. The providers' operators close their channels (the payer gets the unspent rest back in its
  // escrow balance and each channel's fee moves to the accrued fees), the fees go to their
  // recipient, then the books.
  const opened = await deployer.publicClient.getContractEvents({
    address: escrow,
    abi: computeEscrowAbi,
    eventName: "ChannelOpened",
    fromBlock: deployment.deployBlock,
  });
  for (const [i, key] of providerKeys.entries()) {
    const operator = await createChainClients({ rpcUrl, privateKey: key });
    for (const e of opened.filter((o) => o.args.provider === providers[i]?.info.address)) {
      const hash = await operator.walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "closeChannel",
        args: [e.args.channelId ?? 0n],
      });
      await wait(hash);
    }
  }
  const fees = await deployer.publicClient.readContract({
    address: escrow,
    abi: computeEscrowAbi,
    functionName: "accruedFees",
  });
  if (fees > 0n)
    await wait(
      await deployer.walletClient.writeContract({
        address: escrow,
        abi: computeEscrowAbi,
        functionName: "claimFees",
      }),
    );
  const after = await balances();
  const [redeemed, closed] = await Promise.all([
    deployer.publicClient.getContractEvents({
      address: escrow,
      abi: computeEscrowAbi,
      eventName: "Redeemed",
      fromBlock: deployment.deployBlock,
    }),
    deployer.publicClient.getContractEvents({
      address: escrow,
      abi: computeEscrowAbi,
      eventName: "ChannelClosed",
      fromBlock: deployment.deployBlock,
    }),
  ]);
  const providerOf = new Map(opened.map((e) => [e.args.channelId ?? 0n, e.args.provider as string]));
  const paidTo = new Map<string, bigint>();
  const paidOn = new Map<bigint, bigint>();
  for (const e of redeemed) {
    const channelId = e.args.channelId ?? 0n;
    const provider = providerOf.get(channelId) ?? "";
    paidTo.set(provider, (paidTo.get(provider) ?? 0n) + (e.args.paid ?? 0n));
    paidOn.set(channelId, (paidOn.get(channelId) ?? 0n) + (e.args.paid ?? 0n));
  }
  const feeTotal = closed.reduce((s, e) => s + (e.args.fee ?? 0n), 0n);
  const sum = (b: Record<string, bigint>) => Object.values(b).reduce((x, y) => x + y, 0n);
  // Each provider received exactly what the chain says it was paid…
  const providersPaidRight = providers.every(
    (p) =>
      (after[p.info.address] ?? 0n) - (before[p.info.address] ?? 0n) === (paidTo.get(p.info.address) ?? 0n),
  );
  // …which is, per channel, its redeemed vouchers minus the channel's fee…
  const channelsRight = closed.every((e) => {
    const channelId = e.args.channelId ?? 0n;
    const redeemedTotal = redeemed
      .filter((r) => r.args.channelId === channelId)
      .reduce((m, r) => ((r.args.cumulativeAmount ?? 0n) > m ? (r.args.cumulativeAmount ?? 0n) : m), 0n);
    return (paidOn.get(channelId) ?? 0n) + (e.args.fee ?? 0n) === redeemedTotal;
  });
  // …the fee recipient got the fees, and every completed job was paid what its last voucher said.
  const feesRight = (after[feeRecipient] ?? 0n) - (before[feeRecipient] ?? 0n) === feeTotal;
  const billedRight = jobs.every((j) => j.status !== "completed" || j.redeemTx !== null);
  const conserved =
    sum(before) === sum(after) && providersPaidRight && channelsRight && feesRight && billedRight;

  const summary = {
    chainId,
    runtime: { chosen: runtime.kind, why: runtime.why },
    providers: providers.map((p, i) => ({ address: p.info.address, gpuClass: PROVIDERS[i]?.gpuClass })),
    jobs,
    balances: { before, after },
    fees: feeTotal,
    conserved,
  };
  if (values.json) {
    process.stdout.write(`${toJson(summary)}\n`);
  } else {
    const lines = [
      `gridspot demo on chain ${chainId}`,
      ...jobs.map(
        (j) =>
          `  ${j.name.padEnd(14)} ${j.status.padEnd(10)} ${formatGrid(j.amount).padEnd(28)} ${j.gpuClass ?? "cpu"} ${j.provider}  ${j.runtime ?? "?"}  vouchers ${j.vouchers}  tx ${j.redeemTx ?? "-"}`,
      ),
      `  runtime: ${runtime.why}`,
      `  protocol fees ${formatGrid(feeTotal)}`,
      `  conserved: ${conserved} (token balances of payer, providers, escrow and fee recipient, before and after)`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
  process.exitCode = conserved && jobs.every((j) => j.status === "completed") ? 0 : 1;
} finally {
  for (const cleanup of cleanups) await cleanup().catch(() => {});
}
