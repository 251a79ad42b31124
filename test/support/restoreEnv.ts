import { afterAll } from "vitest";

// Test files share a worker process (vitest `isolate: false`): what one file sets in process.env
// (a log level, a secret for a sandbox test) is put back as it was once the file is done, so it
// never reaches the next file.
const saved = { ...process.env };
afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
