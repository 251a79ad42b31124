// Child process for crash.test.ts: stores batch A, then dies without closing the store, either in the
// middle of an open transaction for batch B ("exit-mid-batch") or while writing a large batch B that
// the parent kills with SIGKILL ("kill-during-batch").
import { insertUsageEvents } from "../../../node/store/insertUsageEvents.ts";
import { openProviderStore } from "../../../node/store/openProviderStore.ts";
import { usageEvent } from "./usageEvent.ts";

const [path, mode, sizeArg] = process.argv.slice(2);
if (path === undefined || mode === undefined) throw new Error("usage: crashWriter.ts <db> <mode> [size]");
const size = Number(sizeArg ?? "100");
const store = openProviderStore(path);
const batch = (tag: string) =>
  Array.from({ length: size }, (_, i) => usageEvent(`job-${tag}`, "gpu_ms", i, BigInt(i + 1)));

insertUsageEvents(store, batch("a"));
process.stdout.write("a-committed\n");

if (mode === "exit-mid-batch") {
  const insert = store.db.prepare(
    "INSERT INTO usage_events (id, job_id, source, meter, quantity, time) VALUES (?, ?, ?, ?, ?, ?)",
  );
  store.db.exec("BEGIN IMMEDIATE");
  for (const e of batch("b").slice(0, size / 2))
    insert.run(e.id, e.jobId, e.source, e.meter, e.quantity, e.time);
  process.exit(3);
} else {
  for (;;) insertUsageEvents(store, batch(`b${Date.now()}`));
}
