import { lstatSync, readlinkSync } from "node:fs";
import { SANDBOX_ETC_ENTRIES, SANDBOX_ROOT_DIRS } from "./constants.ts";

/** One host path the sandbox shows: bound read-only, or recreated as the same symlink. */
export type HostEntry =
  | { path: string; kind: "dir" | "file" }
  | { path: string; kind: "symlink"; target: string };

/** The host paths a job sandbox is built from (see {@link readHostLayout}). */
export interface HostLayout {
  /** `/usr`, `/bin`, `/lib`…: folders, or symlinks where the host merged them into /usr. */
  rootDirs: readonly HostEntry[];
  /** What the sandbox's /etc holds from the host. */
  etc: readonly HostEntry[];
}

/**
 * Looks up which of {@link SANDBOX_ROOT_DIRS} and {@link SANDBOX_ETC_ENTRIES} exist here and what
 * they are (missing ones are left out), so that the sandbox mirrors the host's layout.
 */
export function readHostLayout(
  rootDirs: readonly string[] = SANDBOX_ROOT_DIRS,
  etcEntries: readonly string[] = SANDBOX_ETC_ENTRIES,
): HostLayout {
  return { rootDirs: entries(rootDirs), etc: entries(etcEntries) };
}

function entries(paths: readonly string[]): HostEntry[] {
  const found: HostEntry[] = [];
  for (const path of paths) {
    try {
      const info = lstatSync(path);
      if (info.isSymbolicLink()) found.push({ path, kind: "symlink", target: readlinkSync(path) });
      else if (info.isDirectory()) found.push({ path, kind: "dir" });
      else if (info.isFile()) found.push({ path, kind: "file" });
    } catch {
      // Not on this host.
    }
  }
  return found;
}
