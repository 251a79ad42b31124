import { request } from "node:http";
import { beforeEach } from "vitest";
import { probeBwrap } from "../../node/run/process/probeBwrap.ts";

/** The Docker Engine's socket the tests use (the provider's default). */
export const DOCKER_SOCKET = process.env.DOCKER_SOCKET ?? "/var/run/docker.sock";

function pingDocker(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = request({ socketPath: DOCKER_SOCKET, path: "/_ping", timeout: 2_000 }, (res) => {
      res.resume();
      resolve(
        res.statusCode === 200 ? undefined : `Docker Engine at ${DOCKER_SOCKET} answered ${res.statusCode}`,
      );
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (error: NodeJS.ErrnoException) =>
      resolve(`no Docker Engine at ${DOCKER_SOCKET} (${error.code ?? error.message})`),
    );
    req.end();
  });
}

/** Why Docker tests cannot run here, or undefined when a Docker Engine answers. */
export const dockerMissing: string | undefined = await pingDocker();

/** Why bubblewrap tests cannot run here, or undefined when a sandbox works. */
export const bwrapMissing: string | undefined = await probeBwrap().then((p) =>
  p.available ? undefined : `bubblewrap unavailable: ${p.reason.split("\n")[0]}`,
);

/**
 * Skips every test of the enclosing `describe` (or file) when `reason` is set, with the reason as
 * the test's note: the skip summary printed after the run counts them by reason. Hooks that need
 * the component must check `reason` themselves (`if (dockerMissing) return;`).
 */
export function skipWhen(reason: string | undefined): void {
  beforeEach((context) => {
    if (reason !== undefined) context.skip(reason);
  });
}
