import { defineConfig } from "vitest/config";

// Integration tests start real chains, libp2p nodes and processes: give them room, and keep the
// two cores of a CI machine from being oversubscribed.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
  },
});
