import { bwrapMissing, skipWhen } from "../../../support/requires.ts";

skipWhen(bwrapMissing);

import { beforeAll } from "vitest";
import { createProcessRuntime } from "../../../../node/run/process/createProcessRuntime.ts";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { describeJobBehaviour } from "./jobBehaviour.ts";

process.env.GRIDSPOT_TEST_SECRET = "0xsecret";
let runtime: JobRuntime;
beforeAll(async () => {
  if (bwrapMissing) return;
  runtime = await createProcessRuntime({ sandbox: "bwrap", onWarning: () => {} });
});

describeJobBehaviour("bwrap", () => runtime);
