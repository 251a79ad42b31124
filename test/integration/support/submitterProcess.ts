// A submitter in its own process, so a test can make it vanish with SIGKILL. It submits one burn
// job through the CLI's code and prints one JSON line per debit note on stdout. `freezeDelayMs`
// after note `freezeAfterNote` (long enough for that note's voucher to be sent, well before the
// next note is due) it prints `frozen` and blocks its whole event loop until the test kills it: no
// later voucher is signed or sent, so what it has signed, and delivered, is known exactly.
//
// Input: GRIDSPOT_PRIVATE_KEY, and GRIDSPOT_TEST_SUBMITTER = JSON of SubmitterProcessInput.
import { writeSync } from "node:fs";
import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { createSubmitter } from "../../../marketplace/client/createSubmitter.ts";
import { toJson } from "../../../marketplace/messages/json.ts";
import { submitBurnJob } from "./nodes.ts";

export type SubmitterProcessInput = {
  rpcUrl: string;
  deploymentsDir: string;
  dataDir: string;
  bootstrap: string[];
  outputDir: string;
  burnMs: number;
  freezeAfterNote: number;
  freezeDelayMs: number;
  /** Bound on the freeze, so a test that forgets to kill it does not leave it behind for long. */
  freezeMs: number;
};

const emit = (line: Record<string, unknown>) => writeSync(1, `${toJson(line)}\n`);

const input = JSON.parse(process.env.GRIDSPOT_TEST_SUBMITTER ?? "") as SubmitterProcessInput;
const key = process.env.GRIDSPOT_PRIVATE_KEY as Hex;
const account = privateKeyToAccount(key);
const submitter = await createSubmitter(
  {
    dataDir: input.dataDir,
    rpcUrl: input.rpcUrl,
    deploymentsDir: input.deploymentsDir,
    bootstrap: input.bootstrap,
    localNetwork: true,
  },
  account,
);
try {
  const result = await submitBurnJob(
    { submitter, key, address: account.address, dataDir: input.dataDir },
    {
      ms: input.burnMs,
      outputDir: input.outputDir,
      onNote: (note, verdict) => {
        emit({ event: "note", jobId: note.jobId, channelId: note.channelId, seq: note.seq, verdict });
        if (note.seq !== input.freezeAfterNote) return;
        setTimeout(() => {
          emit({ event: "frozen", afterNote: note.seq });
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, input.freezeMs);
        }, input.freezeDelayMs);
      },
    },
  );
  emit({ event: "result", status: result.status });
} finally {
  await submitter.close();
}
