import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readProcessTree } from "../../../node/meter/readProcessTree.ts";
import { burnCpu, exited, startShell } from "./childProcess.ts";

const waitFor = async (check: () => boolean) => {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
};

describe("readProcessTree", () => {
  it("finds children and grandchildren of the root", async () => {
    const child = startShell("sleep 5 & (sleep 5 & wait) & wait");
    const pid = child.pid ?? 0;
    await waitFor(() => readProcessTree(pid).pids.length >= 4);
    const tree = readProcessTree(pid);
    expect(tree.pids[0]).toBe(pid);
    expect(tree.pids).toHaveLength(4); // sh, sleep, subshell, its sleep
    expect(tree.rssKiB).toBeGreaterThan(0n);
    expect(tree.rootStartTime).toBeTypeOf("bigint");
    for (const p of tree.pids) process.kill(p, "SIGKILL");
    await exited(child);
  });

  it("counts CPU time of reaped children via cutime", async () => {
    const child = startShell(`"$NODE" -e "${burnCpu(300)}"; sleep 5`);
    const pid = child.pid ?? 0;
    // A process seen in the tree may exit before its name is read (node, right after burning).
    const comm = (p: number) => {
      try {
        return readFileSync(`/proc/${p}/comm`, "utf8").trim();
      } catch {
        return "(gone)";
      }
    };
    await waitFor(() => {
      const p = readProcessTree(pid).pids[1];
      return p !== undefined && comm(p) === "sleep";
    });
    const tree = readProcessTree(pid);
    // Only sh and sleep are alive; node's 300 ms are in sh's cutime.
    expect(tree.pids.map(comm)).toEqual(["sh", "sleep"]);
    expect(tree.cpuMs).toBeGreaterThanOrEqual(300n);
    expect(tree.cpuMs).toBeLessThan(1_000n);
    child.kill("SIGKILL");
    await exited(child);
  });

  it("returns an empty tree for a pid that does not exist", () => {
    expect(readProcessTree(2 ** 22 + 1)).toEqual({
      pids: [],
      cpuMs: 0n,
      rssKiB: 0n,
      rootStartTime: undefined,
    });
  });
});
