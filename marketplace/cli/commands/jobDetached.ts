import { existsSync } from "node:fs";
import { cp, open as openFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { agentRequest } from "../../agent/agentClient.ts";
import { runningAgent } from "../../agent/agentFiles.ts";
import { type AgentSubmitRequest, agentCancelAnswer, agentSubmitAnswer } from "../../agent/agentRequests.ts";
import { jobLogFile, type LogStream } from "../../client/jobLogFiles.ts";
import { ownerAlive } from "../../client/processOwner.ts";
import { settleOrphanedJobs } from "../../client/settleOrphanedJobs.ts";
import {
  getSubmitterJob,
  openSubmitterStore,
  type SubmitterJob,
  updateSubmitterJob,
} from "../../client/submitterStore.ts";
import { BaseError } from "../../errors/base.ts";
import { UsageError } from "../../errors/usage.ts";
import type { Store } from "../../store/openStore.ts";
import type { LocalFile } from "../../transfer/localInputManifest.ts";
import { formatGrid } from "../format.ts";
import type { GlobalOptions } from "../globalOptions.ts";
import type { CommandResult } from "./types.ts";

/** How long a submit may take in the agent: the bid window, then the channel's transactions. */
export const SUBMIT_TIMEOUT_MS = 5 * 60_000;
/** How often `job logs --follow` and `job attach` look for new log bytes and a new status. */
const FOLLOW_POLL_MS = 200;
/** How long `job cancel` waits for the job to end before saying it is ending. */
const CANCEL_WAIT_MS = 60_000;

/** `job submit --detach`: the agent places and runs the job; the id comes back once it is placed. */
export async function submitDetached(
  options: GlobalOptions,
  request: Omit<AgentSubmitRequest, "inputs"> & { inputs: readonly LocalFile[] },
): Promise<CommandResult> {
  const answer = await agentRequest(options.dataDir, {
    method: "POST",
    path: "/v1/jobs",
    body: JSON.parse(JSON.stringify(request, (_k, v) => (typeof v === "bigint" ? v.toString() : v))),
    schema: agentSubmitAnswer,
    timeoutMs: SUBMIT_TIMEOUT_MS,
  });
  return {
    json: answer,
    text: [
      `Job ${answer.jobId} running (detached) on ${answer.provider} ${answer.gpuClass ?? "(CPU only)"}, budget ${formatGrid(answer.budget)}, channel ${answer.channelId}`,
      `  gridspot job logs ${answer.jobId} --follow   gridspot job attach ${answer.jobId}`,
      `  gridspot job cancel ${answer.jobId}          gridspot job outputs ${answer.jobId} --out-dir DIR`,
    ].join("\n"),
  };
}

/** The submitter store alone (no chain, no network), with foreground jobs whose CLI died settled. */
export function openLocalStore(options: GlobalOptions): Store {
  const path = join(options.dataDir, "submitter.db");
  if (!existsSync(path)) throw new UsageError(`No jobs yet: there is no job store in ${options.dataDir}`);
  const store = openSubmitterStore(path);
  settleOrphanedJobs(store);
  return store;
}

function requireJob(store: Store, jobId: string | undefined): SubmitterJob {
  if (jobId === undefined) throw new UsageError("Give a job id (see `gridspot job list`)");
  const job = getSubmitterJob(store, jobId);
  if (job === undefined) throw new UsageError(`No job ${jobId} in ${store.path}`);
  return job;
}

/**
 * Copies the new bytes of a job's log files to this process's stdout and stderr (both to stderr with
 * `--json`, whose stdout is the one JSON document).
 */
function logPrinter(dataDir: string, jobId: string, json: boolean) {
  const read: Record<LogStream, number> = { stdout: 0, stderr: 0 };
  return async function printNew(): Promise<void> {
    for (const stream of ["stdout", "stderr"] as const) {
      const file = await openFile(jobLogFile(dataDir, jobId, stream), "r").catch(() => undefined);
      if (file === undefined) continue;
      try {
        for (;;) {
          const buffer = Buffer.alloc(64 * 1024);
          const { bytesRead } = await file.read(buffer, 0, buffer.length, read[stream]);
          if (bytesRead === 0) break;
          read[stream] += bytesRead;
          (stream === "stdout" && !json ? process.stdout : process.stderr).write(
            buffer.subarray(0, bytesRead),
          );
        }
      } finally {
        await file.close();
      }
    }
  };
}

/** Why a running job makes no progress, when it is one we can see: its agent is away. */
function awayNote(options: GlobalOptions, job: SubmitterJob): string | undefined {
  if (job.status !== "running" || !job.detached || runningAgent(options.dataDir) !== undefined)
    return undefined;
  return "the payer agent is not running: the job waits suspended on its provider (up to its --max-suspended); `gridspot agent start` resumes it";
}

/**
 * Follows a job until it ends or SIGINT: its logs as they are written, and (`statusLines`) a line on
 * stderr when its status or cost changes. Resolves with the job as it ended, or undefined on SIGINT.
 */
async function follow(
  options: GlobalOptions,
  store: Store,
  jobId: string,
  statusLines: boolean,
): Promise<SubmitterJob | undefined> {
  const printNew = logPrinter(options.dataDir, jobId, options.json);
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once("SIGINT", onSigint);
  let said = "";
  let warnedAway = false;
  try {
    for (;;) {
      const job = requireJob(store, jobId);
      await printNew();
      if (job.status !== "running") return job;
      const away = awayNote(options, job);
      if (away !== undefined && !warnedAway) process.stderr.write(`gridspot: ${away}\n`);
      warnedAway = away !== undefined;
      const line = `job ${jobId} running, cost so far ${formatGrid(job.amount)} of ${formatGrid(job.budget)}`;
      if (statusLines && line !== said) process.stderr.write(`gridspot: ${line}\n`);
      said = line;
      await sleep(FOLLOW_POLL_MS, undefined, { signal: interrupted.signal }).catch(() => {});
      if (interrupted.signal.aborted) return undefined;
    }
  } finally {
    process.off("SIGINT", onSigint);
  }
}

function endText(job: SubmitterJob): string {
  return `Job ${job.jobId} ${job.status}${job.reason ? ` (${job.reason})` : ""}, cost ${formatGrid(job.amount)}`;
}

/** `job logs ID [--follow]`: what the job wrote, from the data dir; `--follow` until it ends. */
export async function jobLogs(
  options: GlobalOptions,
  p: { jobId: string | undefined; follow: boolean },
): Promise<CommandResult> {
  const store = openLocalStore(options);
  try {
    const job = requireJob(store, p.jobId);
    if (!p.follow) {
      await logPrinter(options.dataDir, job.jobId, options.json)();
      const away = awayNote(options, job);
      if (away !== undefined) process.stderr.write(`gridspot: ${away}\n`);
      return { json: { jobId: job.jobId, status: job.status }, text: "", exitCode: 0 };
    }
    const ended = await follow(options, store, job.jobId, false);
    if (ended === undefined) return { json: { jobId: job.jobId, status: "running" }, text: "" };
    process.stderr.write(`gridspot: ${endText(ended)}\n`);
    return { json: { jobId: ended.jobId, status: ended.status, reason: ended.reason }, text: "" };
  } finally {
    store.close();
  }
}

/** `job attach ID`: the job's logs and cost as they come, until it ends; Ctrl-C leaves it running. */
export async function jobAttach(
  options: GlobalOptions,
  p: { jobId: string | undefined },
): Promise<CommandResult> {
  const store = openLocalStore(options);
  try {
    const job = requireJob(store, p.jobId);
    const ended = await follow(options, store, job.jobId, true);
    if (ended === undefined)
      return {
        json: { jobId: job.jobId, status: "running", attached: false },
        text: `Detached from job ${job.jobId}; it keeps running (gridspot job attach ${job.jobId}).`,
      };
    return {
      json: {
        jobId: ended.jobId,
        status: ended.status,
        reason: ended.reason,
        amount: ended.amount,
        reasonCode: ended.reasonCode,
      },
      text: [endText(ended), ...outputsHint(ended)].join("\n"),
      exitCode: ended.status === "completed" ? 0 : 1,
    };
  } finally {
    store.close();
  }
}

/**
 * `job cancel ID`: a detached job through its agent, a foreground job through the CLI running it
 * (SIGINT, as Ctrl-C in its terminal); then waits for it to end. The provider stops the job, bills
 * up to the stop in its final note, and the job ends `cancelled`.
 */
export async function jobCancel(
  options: GlobalOptions,
  p: { jobId: string | undefined },
): Promise<CommandResult> {
  const store = openLocalStore(options);
  try {
    const job = requireJob(store, p.jobId);
    if (job.status !== "running") throw new BaseError(`Job ${job.jobId} already ended: ${job.status}`);
    if (job.detached) {
      await agentRequest(options.dataDir, {
        method: "POST",
        path: `/v1/jobs/${encodeURIComponent(job.jobId)}/cancel`,
        body: { reason: "cancelled with gridspot job cancel" },
        schema: agentCancelAnswer,
        timeoutMs: 10_000,
      });
    } else {
      const owner = job.owner;
      if (owner === null || !ownerAlive(owner))
        throw new BaseError(`The CLI running job ${job.jobId} is gone`);
      process.kill(Number(owner.split("-")[0]), "SIGINT");
    }
    const deadline = Date.now() + CANCEL_WAIT_MS;
    for (;;) {
      const now = requireJob(store, job.jobId);
      if (now.status !== "running")
        return {
          json: { jobId: now.jobId, status: now.status, reason: now.reason, amount: now.amount },
          text: endText(now),
          exitCode: now.status === "cancelled" ? 0 : 1,
        };
      if (Date.now() > deadline)
        return {
          json: { jobId: job.jobId, status: "running", cancelRequested: true },
          text: `Cancel sent to job ${job.jobId}; it has not ended yet (gridspot job status ${job.jobId}).`,
          exitCode: 8,
        };
      await sleep(FOLLOW_POLL_MS);
    }
  } finally {
    store.close();
  }
}

/**
 * `job outputs ID [--out-dir DIR]`: a detached job's outputs, kept in the data dir until fetched,
 * copied to `DIR/<jobId>/`; a foreground job's are where its submit wrote them (copied with --out-dir).
 */
export async function jobOutputs(
  options: GlobalOptions,
  p: { jobId: string | undefined; outDir: string | undefined },
): Promise<CommandResult> {
  const store = openLocalStore(options);
  try {
    const job = requireJob(store, p.jobId);
    if (job.status === "running")
      throw new BaseError(`Job ${job.jobId} is still running: its outputs come when it ends`, {
        metaMessages: [`gridspot job attach ${job.jobId} waits for its end.`],
      });
    if (job.outputs.length === 0 || job.outputsDir === null)
      return { json: { jobId: job.jobId, files: [] }, text: `Job ${job.jobId} brought back no outputs.` };
    const from = join(job.outputsDir, job.jobId);
    const copy = job.detached || p.outDir !== undefined;
    const root = resolve(p.outDir ?? "gridspot-out");
    const to = copy ? join(root, job.jobId) : from;
    if (copy && resolve(from) !== resolve(to)) {
      if (!existsSync(from)) throw new BaseError(`The outputs of job ${job.jobId} are no longer in ${from}`);
      await cp(from, to, { recursive: true, force: true, errorOnExist: false });
    }
    const files = job.outputs.map((f) => join(to, relative(from, f)));
    updateSubmitterJob(store, job.jobId, { outputsFetchedAt: Date.now() });
    return {
      json: { jobId: job.jobId, dir: to, files },
      text: [`Outputs of job ${job.jobId} in ${to}:`, ...files.map((f) => `  ${f}`)].join("\n"),
    };
  } finally {
    store.close();
  }
}

/** What a finished job's outputs wait for, if anything. */
export function outputsHint(job: SubmitterJob): string[] {
  return job.detached && job.outputs.length > 0 && job.outputsFetchedAt === null
    ? [`Outputs waiting: gridspot job outputs ${job.jobId} --out-dir DIR (${job.outputs.length} file(s))`]
    : [];
}
