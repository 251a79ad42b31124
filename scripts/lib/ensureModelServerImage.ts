import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type Docker from "dockerode";
import { buildOffline } from "./localImages.ts";

const MODEL_SERVER = fileURLToPath(new URL("./modelServer.ts", import.meta.url));
/** The Node binary the project runs on (the `node` devDependency), else this process's own. */
const NODE_BINARY = process.execPath;

const DOCKERFILE = `FROM scratch
COPY rootfs/ /
ENTRYPOINT ["/usr/local/bin/node", "/app/modelServer.ts"]
CMD ["--port", "8000", "--host", "0.0.0.0"]
EXPOSE 8000
LABEL gridspot.image="model-server-local"
`;

/**
 * Builds, when the host lacks it, an image of the tiny model server (scripts/lib/modelServer.ts)
 * offline: `FROM scratch` with this host's Node binary, the shared libraries `ldd` says it loads
 * (at the same paths), and the script. No registry is contacted. It serves on port 8000 (`--port`
 * to change). Returns the image ID (`sha256:…`).
 * @throws Error when `ldd` cannot list the binary's libraries or the build fails.
 */
export async function ensureModelServerImage(
  docker: Docker,
  tag = "gridspot/model-server:local",
): Promise<string> {
  const existing = await docker
    .getImage(tag)
    .inspect()
    .catch(() => undefined);
  if (existing !== undefined) return existing.Id;

  const context = mkdtempSync(join(tmpdir(), "gridspot-model-image-"));
  try {
    const rootfs = join(context, "rootfs");
    const place = (from: string, to: string) => {
      mkdirSync(dirname(join(rootfs, to)), { recursive: true });
      copyFileSync(from, join(rootfs, to)); // follows symlinks: the library itself lands there
    };
    place(NODE_BINARY, "/usr/local/bin/node");
    place(MODEL_SERVER, "/app/modelServer.ts");
    for (const library of sharedLibraries(NODE_BINARY)) place(library, library);
    mkdirSync(join(rootfs, "tmp"), { recursive: true });
    mkdirSync(join(rootfs, "work"), { recursive: true });
    writeFileSync(join(context, "Dockerfile"), DOCKERFILE);
    return await buildOffline(docker, tag, { context, src: ["Dockerfile", "rootfs"] });
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}

/** The absolute paths of the shared libraries (and loader) `ldd` lists for a binary. */
function sharedLibraries(binary: string): string[] {
  const out = execFileSync("ldd", [binary], { encoding: "utf8" });
  const paths = new Set<string>();
  for (const line of out.split("\n")) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (match?.[1] !== undefined) paths.add(match[1]);
  }
  if (paths.size === 0) throw new Error(`ldd listed no libraries for ${binary}`);
  return [...paths];
}
