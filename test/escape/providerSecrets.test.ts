// The provider's own secrets against jobs it runs: a real provider process, started with its key and
// admin token in its environment as the README allows for development, runs jobs that look for them
// everywhere they can read (their environment, every /proc/*/environ they see, their parent's).
import { existsSync } from "node:fs";
import { join } from "node:path";
import Docker from "dockerode";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { submitJob } from "../../marketplace/client/submitJob.ts";
import { SECRET_ENV, takeSecretsFromEnv } from "../../node/config/takeSecretsFromEnv.ts";
import { ensureBusyboxImage } from "../../scripts/lib/localImages.ts";
import { createCleanups } from "../integration/support/cleanups.ts";
import { GRID, type Market, startMarket } from "../integration/support/market.ts";
import { createTestSubmitter, startTestProvider } from "../integration/support/nodes.ts";
import { bwrapMissing, DOCKER_SOCKET, dockerMissing, skipWhen } from "../support/requires.ts";

const ADMIN_TOKEN = "escape-admin-token-9f8e7d6c5b4a";
const IMAGE = "gridspot/busybox:local";
const HOST_BUSYBOX = ["/usr/bin/busybox", "/bin/busybox"].find((p) => existsSync(p));
const LOOK =
  'env; for f in /proc/*/environ; do cat "$f" 2>/dev/null | tr "\\0" "\\n"; done; cat /proc/$PPID/environ 2>/dev/null; echo looked';

describe("takeSecretsFromEnv", () => {
  it("takes the key, the password and the admin token out of the environment, keeping the token", () => {
    const env: NodeJS.ProcessEnv = {
      PATH: "/usr/bin",
      GRIDSPOT_PRIVATE_KEY: "0xkey",
      GRIDSPOT_PASSWORD: "pw",
      GRIDSPOT_ADMIN_TOKEN: "token",
    };
    expect(takeSecretsFromEnv(env)).toEqual({ adminToken: "token" });
    expect(env).toEqual({ PATH: "/usr/bin" });
    expect(SECRET_ENV).toHaveLength(3);
  });
});

const notRoot = process.getuid?.() !== 0 ? "needs a root provider" : undefined;

describe("a provider's jobs", () => {
  skipWhen(
    notRoot ??
      (HOST_BUSYBOX === undefined ? "busybox-static missing (apt-get install busybox-static)" : undefined),
  );
  let market: Market;
  const cleanups = createCleanups();
  beforeAll(async () => {
    if (notRoot !== undefined || HOST_BUSYBOX === undefined) return;
    market = await startMarket();
  });
  afterEach(() => cleanups.run());
  afterAll(() => market?.stop());

  async function look(runtime: "process" | "docker"): Promise<string> {
    const provider = await startTestProvider(market, {
      env: { GRIDSPOT_ADMIN_TOKEN: ADMIN_TOKEN },
      config: { runtime: { kind: runtime } },
    });
    cleanups.add(() => provider.stop());
    const payer = await createTestSubmitter(market, [provider]);
    cleanups.add(() => payer.submitter.close());
    const logs: Buffer[] = [];
    const result = await submitJob(payer.submitter, {
      requirements: { gpus: 0, cpuCores: 1, memMiB: 256, maxDurationS: 60 },
      maxRates: [],
      budget: GRID,
      spec:
        runtime === "docker"
          ? { image: IMAGE, command: "sh", args: ["-c", LOOK], env: {}, outputs: [] }
          : { command: HOST_BUSYBOX ?? "busybox", args: ["sh", "-c", LOOK], env: {}, outputs: [] },
      inputs: [],
      outputDir: join(market.work, `out-secrets-${runtime}`),
      bidWindowMs: 1_000,
      explain: false,
      redeemWaitMs: 1_000,
      events: { onLog: (_stream, data) => logs.push(data) },
    });
    expect(result.status).toBe("completed");
    const text = Buffer.concat(logs).toString("utf8");
    expect(text).toContain("looked");
    return text;
  }

  it("in the process runtime never see the provider's key or admin token", async (context) => {
    if (bwrapMissing !== undefined) context.skip(bwrapMissing);
    const text = await look("process");
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toMatch(/GRIDSPOT_PRIVATE_KEY|GRIDSPOT_ADMIN_TOKEN/);
  });

  it("in the Docker runtime never see the provider's key or admin token", async (context) => {
    if (dockerMissing !== undefined) context.skip(dockerMissing);
    await ensureBusyboxImage(new Docker({ socketPath: DOCKER_SOCKET }), IMAGE);
    const text = await look("docker");
    expect(text).not.toContain(ADMIN_TOKEN);
    expect(text).not.toMatch(/GRIDSPOT_PRIVATE_KEY|GRIDSPOT_ADMIN_TOKEN/);
  });
});
