import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Bytes held by everything under `dir` (allocated blocks, so sparse files count what they use;
 * symlinks are not followed, hard links to one inode count once). Files that vanish during the
 * walk are skipped. Stops early and returns as soon as the total passes `stopAbove`.
 */
export async function measureDiskUsage(dir: string, stopAbove = Number.POSITIVE_INFINITY): Promise<number> {
  let total = 0;
  const seen = new Set<string>();
  const pending = [dir];
  while (pending.length > 0 && total <= stopAbove) {
    const current = pending.pop() as string;
    const entries = await readdir(current, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const path = join(current, entry.name);
      const info = await lstat(path).catch(() => undefined);
      if (info === undefined) continue;
      if (info.nlink > 1 && !info.isDirectory()) {
        const key = `${info.dev}:${info.ino}`;
        if (seen.has(key)) continue;
        seen.add(key);
      }
      total += info.blocks * 512;
      if (info.isDirectory()) pending.push(path);
    }
  }
  return total;
}
