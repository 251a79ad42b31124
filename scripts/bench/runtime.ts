// Runtime benchmark: how fast a job starts in each runtime, and what metering running jobs costs.
//
//   npm run bench:runtime                  readable summary
//   npm run bench:runtime -- --json        progress on stderr, one JSON object as the last stdout line
//   npm run bench:runtime -- --starts 20 --jobs 20 --seconds 10
//
// Start latency is what the provider adds between an agreement and the job's first instruction: from
// the runtime's `start()` call (the work dir made, inputs written) to the first byte the job prints
// (`echo go` as its first instruction), image present. `--starts` starts per runtime; medians.
// - container: the Docker runtime, a busybox image built here (`gridspot/busybox:local`);
// - process: the process runtime (bubblewrap when it works, else unsandboxed, which the output says).
//
// Metering cost: `--jobs` container jobs (`sleep`) run at once for two windows of `--seconds`: one
// unmetered (the baseline), one with each job's meter sampling every second as the node does
// (`JobHandle.sample()` through the Engine's one-shot stats, then the usage accumulator). The cost is
// the CPU time of this process, dockerd and containerd in the metered window minus the baseline,
// per job, as a percentage of one core. The same for the process runtime's cgroup reads.
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import Docker from "dockerode";
import { createJobMeter } from "../../node/meter/createJobMeter.ts";
import { parseProcStat } from "../../node/meter/parseProcStat.ts";
import { procConstants } from "../../node/meter/procConstants.ts";
import { createDockerRuntime } from "../../node/run/docker/createDockerRuntime.ts";
import { probeDocker } from "../../node/run/docker/probeDocker.ts";
import { createProcessRuntime } from "../../node/run/process/createProcessRuntime.ts";
import { probeBwrap } from "../../node/run/process/probeBwrap.ts";
import type { JobHandle, JobRuntime, StartJobOptions } from "../../node/run/runtime.ts";
import { ensureBusyboxImage } from "../lib/localImages.ts";
import { median, round } from "./stats.ts";

const IMAGE = "gridspot/busybox:local";
const { values } = parseArgs({
  options: {
    json: { type: "boolean", default: false },
    starts: { type: "string", default: "15" },
    jobs: { type: "string", default: "20" },
    seconds: { type: "string", default: "10" },
  },
});
const starts = Number(values.starts);
const jobCount = Number(values.jobs);
const windowMs = Number(values.seconds) * 1000;
const log = (m: string) => process.stderr.write(`bench:runtime: ${m}\n`);

const root = await mkdtemp(join(tmpdir(), "gridspot-bench-runtime-"));
let jobSeq = 0;
async function jobOptions(overrides: Partial<StartJobOptions>): Promise<StartJobOptions> {
  const jobId = `bench-${process.pid}-${jobSeq++}`;
  const workDir = await mkdtemp(join(root, `${jobId}-`));
  return {
    jobId,
    command: "sh",
    args: ["-c", "echo go"],
    env: {},
    workDir,
    gpus: { indices: [], uuids: [] },
    limits: { cpuCores: 1, memMiB: 256, pids: 256, diskBytes: 64 * 1024 * 1024, maxDurationMs: 120_000 },
    killGraceMs: 1_000,
    ...overrides,
  };
}

/** Starts `count` jobs one after another; returns ms from start() to the first byte of output. */
async function startLatencies(
  runtime: JobRuntime,
  image: string | undefined,
  count: number,
): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    const first = Promise.withResolvers<number>();
    const options = await jobOptions({
      ...(image === undefined ? {} : { image }),
      onStdout: () => first.resolve(performance.now()),
    });
    const t0 = performance.now();
    const handle = await runtime.start(options);
    const firstByte = await Promise.race([first.promise, handle.exited.then(() => Number.NaN)]);
    latencies.push(firstByte - t0);
    await handle.exited;
    await handle.remove();
    await rm(options.workDir, { recursive: true, force: true });
  }
  return latencies.filter((x) => Number.isFinite(x));
}

/** CPU ms (user + system) a process has used, 0 when it is gone. */
function processCpuMs(pid: number): number {
  try {
    const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
    if (stat === undefined) return 0;
    return (Number(stat.utime + stat.stime) * 1000) / Number(procConstants().clockTicks);
  } catch {
    return 0;
  }
}

/** Pids of the processes named `name` (the container engine's daemons). */
function pidsNamed(name: string): number[] {
  return readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === name;
      } catch {
        return false;
      }
    });
}

/** CPU ms of this process plus the given daemons, now. */
function cpuNowMs(pids: number[]): number {
  const self = process.cpuUsage();
  return (self.user + self.system) / 1000 + pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/**
 * Per-job metering cost, % of one core: a metered window minus an unmetered one, same jobs (a
 * difference within the machine's noise can come out below 0: reported as it is).
 */
async function meterCost(handles: JobHandle[], daemonPids: number[]): Promise<number> {
  const c0 = cpuNowMs(daemonPids);
  await new Promise((r) => setTimeout(r, windowMs));
  const baseline = cpuNowMs(daemonPids) - c0;
  const meters = handles.map((handle, i) =>
    createJobMeter({
      jobId: `bench-meter-${i}`,
      read: () => handle.sample(),
      gpus: 0,
      cpuCores: 1,
      intervalMs: 1_000,
      onEvents: () => {},
    }),
  );
  const c1 = cpuNowMs(daemonPids);
  for (const meter of meters) meter.start();
  await new Promise((r) => setTimeout(r, windowMs));
  await Promise.all(meters.map((meter) => meter.stop()));
  const metered = cpuNowMs(daemonPids) - c1;
  return ((metered - baseline) / windowMs / handles.length) * 100;
}

async function startMany(runtime: JobRuntime, image: string | undefined): Promise<JobHandle[]> {
  const handles: JobHandle[] = [];
  for (let i = 0; i < jobCount; i++) {
    const options = await jobOptions({
      ...(image === undefined ? {} : { image }),
      args: ["-c", `sleep ${Math.ceil((3 * windowMs) / 1000)}`],
    });
    handles.push(await runtime.start(options));
  }
  return handles;
}

async function stopAll(handles: JobHandle[]): Promise<void> {
  await Promise.all(handles.map((handle) => handle.cancel("bench done")));
  await Promise.all(handles.map((handle) => handle.remove()));
}

const figures: Record<string, unknown> = { starts, jobs: jobCount, windowS: windowMs / 1000 };
try {
  const engine = await probeDocker();
  if (engine.available) {
    await ensureBusyboxImage(new Docker(), IMAGE);
    const docker = await createDockerRuntime({ nodeLabel: `bench-${process.pid}`, onWarning: () => {} });
    log(`container starts (${starts}, ${IMAGE}, docker ${engine.version})`);
    await startLatencies(docker, IMAGE, 2); // warm-up: first starts load the image's layers
    const containerStarts = await startLatencies(docker, IMAGE, starts);
    figures.containerStartP50Ms = round(median(containerStarts), 1);
    figures.containerStartMaxMs = round(Math.max(...containerStarts), 1);
    log(`metering ${jobCount} containers, ${windowMs / 1000} s unmetered then ${windowMs / 1000} s metered`);
    const handles = await startMany(docker, IMAGE);
    try {
      const daemons = [...pidsNamed("dockerd"), ...pidsNamed("containerd")];
      figures.meterCpuPctPerJob = round(await meterCost(handles, daemons), 4);
    } finally {
      await stopAll(handles);
    }
  } else {
    figures.containerStartP50Ms = null;
    figures.dockerMissing = engine.reason;
    log(`no container figures: ${engine.reason}`);
  }

  const bwrap = await probeBwrap();
  const processRuntime = await createProcessRuntime({
    sandbox: bwrap.available ? "auto" : "none",
    onWarning: () => {},
  });
  figures.processSandbox = bwrap.available ? "bwrap" : `none (${bwrap.reason})`;
  log(`process starts (${starts}, sandbox ${figures.processSandbox})`);
  await startLatencies(processRuntime, undefined, 1);
  const processStarts = await startLatencies(processRuntime, undefined, starts);
  figures.processStartP50Ms = round(median(processStarts), 1);
  log(`metering ${jobCount} processes`);
  const handles = await startMany(processRuntime, undefined);
  try {
    figures.processMeterCpuPctPerJob = round(await meterCost(handles, []), 4);
  } finally {
    await stopAll(handles);
  }
} finally {
  await rm(root, { recursive: true, force: true });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
} else {
  for (const [key, value] of Object.entries(figures))
    process.stdout.write(`${key.padEnd(26)} ${String(value)}\n`);
}
