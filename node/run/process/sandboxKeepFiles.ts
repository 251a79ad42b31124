import { realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute } from "node:path";
import { SANDBOX_FORBIDDEN_DIRS } from "./constants.ts";
import type { HostLayout } from "./readHostLayout.ts";

/**
 * The files to bind back into a sandbox so that the job can run them by the path it was given: the
 * job's command when it is an absolute path outside the sandbox's /usr (and merged symlinks), and
 * the daemon's own node binary (jobs, and tests, run `node` jobs by that path). Only regular,
 * executable, non-setuid files outside the forbidden folders (/run, /root, /home…); when the daemon
 * is root (`worldReachable`), only files any user may reach and run, since bubblewrap binds them as
 * the job uid. Each file is bound alone, never its folder.
 */
export function sandboxKeepFiles(
  layout: HostLayout,
  paths: readonly string[],
  { worldReachable }: { worldReachable: boolean },
): { source: string; path: string }[] {
  const shown = layout.rootDirs.filter((e) => e.kind === "dir").map((e) => e.path);
  const keep = new Map<string, string>();
  for (const path of paths) {
    if (!isAbsolute(path)) continue;
    let source: string;
    try {
      source = realpathSync(path);
    } catch {
      continue; // A missing command fails at start with the sandbox's own error.
    }
    if (!keepable(source, worldReachable)) continue;
    for (const at of new Set([path, source])) {
      if (within(at, shown) || within(at, SANDBOX_FORBIDDEN_DIRS)) continue;
      keep.set(at, source);
    }
  }
  return [...keep].map(([path, source]) => ({ source, path }));
}

function keepable(file: string, worldReachable: boolean): boolean {
  try {
    const info = statSync(file);
    if (!info.isFile() || (info.mode & 0o6000) !== 0 || (info.mode & 0o111) === 0) return false;
    if (!worldReachable) return true;
    if ((info.mode & 0o005) !== 0o005) return false;
    for (let dir = dirname(file); ; dir = dirname(dir)) {
      if ((statSync(dir).mode & 0o001) === 0) return false;
      if (dir === "/") return true;
    }
  } catch {
    return false;
  }
}

function within(path: string, dirs: readonly string[]): boolean {
  return dirs.some((dir) => path === dir || path.startsWith(`${dir}/`));
}
