import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/**
 * Resolves a command like the shell does: a name with a slash is taken as is, a bare name is looked
 * up in `pathEnv`. Lets the runtime start bubblewrap from the daemon's PATH while the job gets its own.
 */
export function findExecutable(name: string, pathEnv: string | undefined): string | undefined {
  if (name.includes("/")) return name;
  for (const dir of (pathEnv ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
