import { defineConfig } from "vitest/config";

// Integration tests start real chains, libp2p nodes, processes and containers: give them room, and
// keep the two cores of a CI machine from being oversubscribed. Tests that need Docker or
// bubblewrap skip without them; the last reporter counts those skips by reason.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    // Files share a worker's module cache (no test mocks modules), and the environment is put back
    // after each file (restoreEnv.ts). It saves a worker start per file (a tenth of the suite here).
    isolate: false,
    setupFiles: ["./test/support/restoreEnv.ts"],
    // Payer agents started by tests take a free port for their endpoint gateway, never 8788.
    env: { GRIDSPOT_GATEWAY_PORT: "0" },
    reporters: ["default", "./test/support/skipSummary.ts"],
  },
});
