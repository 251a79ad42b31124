import { existsSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { FREEZE_TIMEOUT_MS, KILL_ALL_TIMEOUT_MS } from "./constants.ts";
import type { CgroupLimitHits, CgroupParent, JobCgroup } from "./types.ts";

/**
 * The job cgroup `name` under `parent`, whether it exists or not (createJobCgroup makes one; the
 * orphan cleanup attaches to a predecessor's). Reads and writes its files synchronously: they are
 * kernel state, not disk.
 */
export function jobCgroup(parent: CgroupParent, name: string): JobCgroup {
  return parent.version === 2 ? v2(parent.dir, name) : v1(parent, name);
}

function v2(parentDir: string, name: string): JobCgroup {
  const dir = join(parentDir, name);
  const file = (f: string) => join(dir, f);
  const pids = () => readPids(file("cgroup.procs"));
  const canFreeze = existsSync(join(parentDir, "cgroup.freeze")) || existsSync(file("cgroup.freeze"));
  const freeze = async () => {
    if (!write(file("cgroup.freeze"), "1")) return;
    await until(() => keyed(read(file("cgroup.events")), "frozen") === 1, FREEZE_TIMEOUT_MS);
  };
  const thaw = async () => {
    write(file("cgroup.freeze"), "0");
  };
  const killAll = async () => {
    if (existsSync(file("cgroup.kill")) && write(file("cgroup.kill"), "1")) {
      return until(() => pids().length === 0, KILL_ALL_TIMEOUT_MS);
    }
    return killLoop(pids, canFreeze ? { freeze: () => write(file("cgroup.freeze"), "1"), thaw } : undefined);
  };
  return {
    version: 2,
    name,
    dirs: [dir],
    procsFiles: [file("cgroup.procs")],
    canFreeze,
    pids,
    usage() {
      const current = read(file("memory.current"));
      if (current === undefined) return undefined;
      const fileBytes = keyed(read(file("memory.stat")), "file") ?? 0;
      const usec = keyed(read(file("cpu.stat")), "usage_usec") ?? 0;
      return {
        cpuMs: BigInt(usec) / 1000n,
        memKiB: BigInt(Math.max(0, Number(current) - fileBytes)) / 1024n,
        pids: Number(read(file("pids.current")) ?? 0),
        hostPids: pids(),
      };
    },
    limitHits() {
      return {
        oomKills: keyed(read(file("memory.events")), "oom_kill") ?? 0,
        oomKillsUnknown: false,
        memFailcnt: 0,
        pidsMax: keyed(read(file("pids.events")), "max") ?? 0,
      };
    },
    freeze,
    thaw,
    killAll,
    remove: () => removeDirs([dir], killAll),
  };
}

function v1(parent: Extract<CgroupParent, { version: 1 }>, name: string): JobCgroup {
  const { memory, cpu, cpuacct, pids: pidsDir, freezer } = parent.dirs;
  const at = (dir: string, f: string) => join(dir, name, f);
  const dirs = [...new Set([memory, cpu, cpuacct, pidsDir, ...(freezer === undefined ? [] : [freezer])])].map(
    (d) => join(d, name),
  );
  const pids = () => readPids(at(pidsDir, "cgroup.procs"));
  const freezeNow = () => freezer !== undefined && write(at(freezer, "freezer.state"), "FROZEN");
  const thaw = async () => {
    if (freezer !== undefined) write(at(freezer, "freezer.state"), "THAWED");
  };
  const killAll = () => killLoop(pids, freezer === undefined ? undefined : { freeze: freezeNow, thaw });
  return {
    version: 1,
    name,
    dirs,
    procsFiles: dirs.map((d) => join(d, "cgroup.procs")),
    canFreeze: freezer !== undefined,
    pids,
    usage() {
      const usage = read(at(memory, "memory.usage_in_bytes"));
      if (usage === undefined) return undefined;
      const stat = read(at(memory, "memory.stat"));
      const cache = keyed(stat, "total_cache");
      const bytes =
        cache === undefined
          ? (keyed(stat, "total_rss") ?? 0) + (keyed(stat, "total_swap") ?? 0)
          : Number(usage) - cache;
      return {
        cpuMs: BigInt(read(at(cpuacct, "cpuacct.usage")) ?? "0") / 1_000_000n,
        memKiB: BigInt(Math.max(0, bytes)) / 1024n,
        pids: Number(read(at(pidsDir, "pids.current")) ?? 0),
        hostPids: pids(),
      };
    },
    limitHits(): CgroupLimitHits {
      const oomKill = keyed(read(at(memory, "memory.oom_control")), "oom_kill");
      const failcnt = read(at(memory, "memory.memsw.failcnt")) ?? read(at(memory, "memory.failcnt"));
      return {
        oomKills: oomKill ?? 0,
        oomKillsUnknown: oomKill === undefined,
        memFailcnt: Number(failcnt ?? 0),
        pidsMax: keyed(read(at(pidsDir, "pids.events")), "max") ?? 0,
      };
    },
    async freeze() {
      if (!freezeNow() || freezer === undefined) return;
      await until(() => read(at(freezer, "freezer.state")) === "FROZEN", FREEZE_TIMEOUT_MS);
    },
    thaw,
    killAll,
    remove: () => removeDirs(dirs, killAll),
  };
}

/**
 * Kills every process in the cgroup until none is left: frozen first where possible, so that none
 * can fork while its siblings die (killed frozen processes die once thawed), then thawed; repeated
 * for what a not-yet-frozen process started meanwhile.
 */
async function killLoop(
  pids: () => number[],
  freezer: { freeze: () => boolean; thaw: () => Promise<void> } | undefined,
): Promise<boolean> {
  const deadline = Date.now() + KILL_ALL_TIMEOUT_MS;
  for (;;) {
    const live = pids();
    if (live.length === 0) return true;
    if (Date.now() > deadline) return false;
    freezer?.freeze();
    for (const pid of live) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // ESRCH: gone meanwhile.
      }
    }
    await freezer?.thaw();
    await sleep(10);
  }
}

async function removeDirs(dirs: readonly string[], killAll: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let busy = false;
    for (const dir of dirs) {
      try {
        rmdirSync(dir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOENT") busy = true;
      }
    }
    if (!busy) return;
    await killAll();
    await sleep(50);
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

function write(path: string, value: string): boolean {
  try {
    writeFileSync(path, value);
    return true;
  } catch {
    return false;
  }
}

/** The number after `key` in a flat-keyed cgroup file (`oom_kill 3`), or undefined. */
function keyed(text: string | undefined, key: string): number | undefined {
  if (text === undefined) return undefined;
  for (const line of text.split("\n")) {
    const [k, v] = line.trim().split(/\s+/);
    if (k === key && v !== undefined) return Number(v);
  }
  return undefined;
}

function readPids(path: string): number[] {
  const text = read(path);
  if (text === undefined || text === "") return [];
  return text
    .split("\n")
    .map(Number)
    .filter((pid) => Number.isSafeInteger(pid) && pid > 0);
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await sleep(10);
  }
  return true;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
