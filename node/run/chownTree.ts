import { lchown, lstat, readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Gives `dir` and everything under it to `uid:gid` (symlinks themselves, never their targets), so
 * that a job running as that uid can write its work dir. Entries that vanish meanwhile are skipped;
 * any other failure (a node that is not root) is thrown.
 */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const pending = [dir];
  while (pending.length > 0) {
    const current = pending.pop() as string;
    const info = await lstat(current).catch(() => undefined);
    if (info === undefined) continue;
    await lchown(current, uid, gid).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== "ENOENT") throw error;
    });
    if (!info.isDirectory()) continue;
    const names = await readdir(current).catch(() => []);
    for (const name of names) pending.push(join(current, name));
  }
}
