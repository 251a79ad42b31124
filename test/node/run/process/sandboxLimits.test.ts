import { bwrapMissing, skipWhen } from "../../../support/requires.ts";
import { cgroupsMissing } from "./helpers.ts";

skipWhen(bwrapMissing);
skipWhen(cgroupsMissing);

import { beforeAll } from "vitest";
import { createProcessRuntime } from "../../../../node/run/process/createProcessRuntime.ts";
import type { JobRuntime } from "../../../../node/run/runtime.ts";
import { describeLimits } from "./limitsBehaviour.ts";

let runtime: JobRuntime;
beforeAll(async () => {
  if (bwrapMissing !== undefined || cgroupsMissing !== undefined) return;
  runtime = await createProcessRuntime({ sandbox: "bwrap", onWarning: () => {} });
});

describeLimits("bwrap", () => runtime);
