import { createBudgetAlerts } from "./budgetAlerts.ts";
import type { Submitter } from "./createSubmitter.ts";
import { createJobLogFiles } from "./jobLogFiles.ts";
import { type JobEvents, type JobResult, type RunJobClientParameters, runJobClient } from "./runJobClient.ts";

/** A job whose agreement is signed and whose channel is funded: what it takes to run (or re-attach). */
export type JobSession = { jobId: string } & Pick<
  RunJobClientParameters,
  | "agreement"
  | "signatures"
  | "providerAddrs"
  | "channelId"
  | "channelBase"
  | "budget"
  | "maxUsage"
  | "spec"
  | "inputs"
  | "outputDir"
  | "attach"
>;

/**
 * One connection to the job's provider, with what every job gets around it: its logs appended to
 * `<dataDir>/jobs/<jobId>/` (`job logs`), the spend policy's caps and budget alerts. Throws when the
 * provider refuses the job; a lost provider is a result (`lost`).
 */
export async function runJobSession(
  submitter: Submitter,
  session: JobSession,
  o: {
    events?: JobEvents | undefined;
    signal?: AbortSignal | undefined;
    detach?: AbortSignal | undefined;
    observe?: RunJobClientParameters["observe"];
  } = {},
): Promise<JobResult> {
  const { store, policy } = submitter;
  const logFiles = createJobLogFiles({
    store,
    dataDir: submitter.dataDir,
    jobId: session.jobId,
    held: session.attach?.logBytes ?? { stdout: 0, stderr: 0 },
  });
  const onLog = o.events?.onLog;
  const onAttached = o.events?.onAttached;
  const events: JobEvents = {
    ...o.events,
    onLog: (stream, data, offset) => {
      logFiles.write(stream, data, offset);
      onLog?.(stream, data, offset);
    },
    onAttached: (suspended, gap) => {
      logFiles.gap("stdout", gap.stdout);
      logFiles.gap("stderr", gap.stderr);
      onAttached?.(suspended, gap);
    },
  };
  const alerts = createBudgetAlerts(
    { store, ...(o.events?.onAlert === undefined ? {} : { notify: o.events.onAlert }) },
    policy.alerts,
  );
  const stopAlerts = () => alerts.stop();
  o.signal?.addEventListener("abort", stopAlerts, { once: true });
  const { host } = await submitter.network();
  try {
    return await runJobClient({
      host,
      store,
      account: submitter.account,
      chainId: submitter.clients.chain.id,
      agreement: session.agreement,
      signatures: session.signatures,
      providerAddrs: session.providerAddrs,
      channelId: session.channelId,
      channelBase: session.channelBase,
      budget: session.budget,
      ...(session.maxUsage === undefined ? {} : { maxUsage: session.maxUsage }),
      spec: session.spec,
      inputs: session.inputs,
      outputDir: session.outputDir,
      observe: o.observe,
      events,
      ...(o.signal === undefined ? {} : { signal: o.signal }),
      ...(o.detach === undefined ? {} : { detach: o.detach }),
      caps: { dailyCap: policy.dailyCap, channelCap: policy.channelCap },
      alerts,
      ...(session.attach === undefined ? {} : { attach: session.attach }),
    });
  } finally {
    logFiles.close();
    // Webhook deliveries are bounded (attempts × timeout): let them finish before the CLI exits.
    await alerts.settled();
    o.signal?.removeEventListener("abort", stopAlerts);
  }
}
