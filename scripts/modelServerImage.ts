// Builds the tiny model server's image (gridspot/model-server:local) on this host's Docker Engine,
// offline: no registry is contacted (see scripts/lib/ensureModelServerImage.ts). Prints its ID.
//
//   npm run image:model-server [-- --tag NAME]
import Docker from "dockerode";
import { ensureModelServerImage } from "./lib/ensureModelServerImage.ts";

const at = process.argv.indexOf("--tag");
const tag = at >= 0 ? process.argv[at + 1] : undefined;
try {
  const id = await ensureModelServerImage(
    new Docker({ socketPath: process.env.DOCKER_SOCKET ?? "/var/run/docker.sock" }),
    tag,
  );
  console.log(`${tag ?? "gridspot/model-server:local"} ${id}`);
} catch (error) {
  console.error(`model-server image: ${(error as Error).message.split("\n")[0]}`);
  console.error("It needs a running Docker Engine (dockerd) this user may use, and ldd.");
  process.exitCode = 1;
}
