import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findContainerCgroups } from "../../../../node/run/docker/findContainerCgroups.ts";
import { readCgroupUsage } from "../../../../node/run/docker/readCgroupUsage.ts";
import { readEgressBytes } from "../../../../node/run/docker/readEgressBytes.ts";

// Fake /proc and cgroup trees: the v2 and hybrid layouts are checked on any host.

const ID = "7d3e7ca9af79a4fe98d59873b2a9f6ec0c313fe1c968711f69984ab7cd27bef3";
let root: string;
afterEach(() => rmSync(root, { recursive: true, force: true }));

function files(dir: string, content: Record<string, string>) {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(content)) writeFileSync(join(dir, name), text);
}

function fakeProc(mountinfo: string[], cgroup: string[]) {
  files(join(root, "proc/self"), { mountinfo: `${mountinfo.join("\n")}\n` });
  files(join(root, "proc/4242"), { cgroup: `${cgroup.join("\n")}\n` });
  return join(root, "proc");
}

describe("findContainerCgroups and readCgroupUsage", () => {
  it("cgroup v2 with the systemd driver", async () => {
    root = mkdtempSync(join(tmpdir(), "gridspot-cgroup-"));
    const cg = join(root, "cgroup");
    const proc = fakeProc(
      [`30 22 0:27 / ${cg} rw,nosuid - cgroup2 cgroup2 rw,nsdelegate`],
      [`0::/system.slice/docker-${ID}.scope`],
    );
    const dir = join(cg, `system.slice/docker-${ID}.scope`);
    files(dir, {
      "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
      "memory.current": `${10 * 1024 * 1024}\n`,
      "memory.stat": `anon 1000\nfile 5000\ninactive_file ${4 * 1024 * 1024}\n`,
      "pids.current": "3\n",
      "pids.events": "max 2\n",
      "cgroup.procs": "100\n101\n102\n",
    });
    const cgroups = await findContainerCgroups(4242, ID, proc);
    expect(cgroups).toEqual({ cpu: { dir, v2: true }, memory: { dir, v2: true }, pids: { dir, v2: true } });
    expect(await readCgroupUsage(cgroups)).toEqual({
      cpuMs: 2_500n,
      memKiB: 6n * 1024n,
      pids: 3,
      hostPids: [100, 101, 102],
      pidsLimitHits: 2,
    });
  });

  it("cgroup v1 (hybrid), with the mount's root inside a cgroup namespace", async () => {
    root = mkdtempSync(join(tmpdir(), "gridspot-cgroup-"));
    const cg = join(root, "cgroup");
    const proc = fakeProc(
      [
        `31 30 0:28 / ${cg}/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct`,
        `34 30 0:31 /outer ${cg}/memory rw - cgroup cgroup rw,memory`,
        `38 30 0:35 / ${cg}/pids rw - cgroup cgroup rw,pids`,
        `40 30 0:37 / ${cg}/unified rw - cgroup2 cgroup2 rw`,
      ],
      [
        `8:pids:/docker/${ID}`,
        `4:memory:/outer/docker/${ID}`,
        `2:cpu,cpuacct:/docker/${ID}`,
        `0::/docker/${ID}`,
      ],
    );
    files(join(cg, `cpu,cpuacct/docker/${ID}`), { "cpuacct.usage": "1234567890\n" });
    files(join(cg, `memory/docker/${ID}`), {
      "memory.usage_in_bytes": "8192000\n",
      "memory.stat": "cache 4096000\ninactive_file 1\ntotal_inactive_file 4096000\n",
    });
    files(join(cg, `pids/docker/${ID}`), {
      "pids.current": "2\n",
      "pids.events": "max 0\n",
      "cgroup.procs": "7\n8\n",
    });
    files(join(cg, `unified/docker/${ID}`), {});
    const cgroups = await findContainerCgroups(4242, ID, proc);
    expect(cgroups).toEqual({
      cpu: { dir: join(cg, `cpu,cpuacct/docker/${ID}`), v2: false },
      memory: { dir: join(cg, `memory/docker/${ID}`), v2: false },
      pids: { dir: join(cg, `pids/docker/${ID}`), v2: false },
    });
    expect(await readCgroupUsage(cgroups)).toEqual({
      cpuMs: 1_234n,
      memKiB: 4_000n,
      pids: 2,
      hostPids: [7, 8],
      pidsLimitHits: 0,
    });
  });

  it("finds nothing for a process outside the container (exited or reused pid), or one that is gone", async () => {
    root = mkdtempSync(join(tmpdir(), "gridspot-cgroup-"));
    const proc = fakeProc([`38 30 0:35 / ${root}/pids rw - cgroup cgroup rw,pids`], ["8:pids:/"]);
    files(join(root, "pids"), { "pids.current": "900\n" });
    expect(await findContainerCgroups(4242, ID, proc)).toEqual({});
    expect(await findContainerCgroups(999, ID, proc)).toEqual({});
    expect(await readCgroupUsage({})).toBeUndefined();
    expect(await readCgroupUsage({ pids: { dir: join(root, "gone"), v2: false } })).toBeUndefined();
  });
});

describe("readEgressBytes", () => {
  it("sums bytes sent on every interface but loopback", async () => {
    root = mkdtempSync(join(tmpdir(), "gridspot-netdev-"));
    files(join(root, "77/net"), {
      dev: [
        "Inter-|   Receive                                                |  Transmit",
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed",
        "    lo:  999999      10    0    0    0     0          0         0   999999      10    0    0    0     0       0          0",
        "  eth0:    5000      20    0    0    0     0          0         0   200116     150    0    0    0     0       0          0",
        "  eth1:       0       0    0    0    0     0          0         0       84       1    0    0    0     0       0          0",
        "",
      ].join("\n"),
    });
    expect(await readEgressBytes(77, root)).toBe(200_200n);
    expect(await readEgressBytes(78, root)).toBeUndefined();
  });
});
