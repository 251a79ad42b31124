import { readFile } from "node:fs/promises";

/**
 * Bytes sent by the network namespace of process `pid` (a container's init) on every interface but
 * loopback, from `/proc/<pid>/net/dev`: what a container with egress allowed has sent. Undefined
 * when the process is gone.
 */
export async function readEgressBytes(pid: number, procRoot = "/proc"): Promise<bigint | undefined> {
  const text = await readFile(`${procRoot}/${pid}/net/dev`, "utf8").catch(() => undefined);
  if (text === undefined) return undefined;
  let total = 0n;
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit bytes.
    const txBytes = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)[8];
    if (name !== "lo" && txBytes !== undefined && /^\d+$/.test(txBytes)) total += BigInt(txBytes);
  }
  return total;
}
