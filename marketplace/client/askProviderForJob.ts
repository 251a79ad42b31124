import { peerIdFromString } from "@libp2p/peer-id";
import { multiaddr } from "@multiformats/multiaddr";
import { signEnvelope } from "../messages/envelope.ts";
import { type JobEndReason, type JobEndStatus, providerFrame } from "../messages/job.ts";
import { JOB_PROTOCOL, MAX_JOB_FRAME_BYTES } from "../p2p/constants.ts";
import { frameChannel } from "../p2p/frames.ts";
import type { Submitter } from "./createSubmitter.ts";
import { storedAgreement } from "./storedAgreement.ts";
import type { SubmitterJob } from "./submitterStore.ts";

/** What the provider says of a job, asked over the network. */
export type ProviderJobState =
  | {
      kind: "ended";
      status: JobEndStatus;
      reason: string;
      reasonCode: JobEndReason | undefined;
      exitCode: number | null;
      endedAt: number | undefined;
      jobAmount: bigint;
    }
  | { kind: "running"; suspended: boolean }
  | { kind: "unknown"; message: string }
  | { kind: "unreachable"; message: string };

/**
 * Asks the job's provider how the job stands, with a signed attach (only the job's submitter may):
 * a job that ended is answered with its `end` (status, reason, amount billed); a running one with
 * `attached`, and this stream is dropped at once (the provider goes on as without a payer: a payer
 * agent attaches for real). Used by `job status` for the jobs whose end this store does not know.
 */
export async function askProviderForJob(
  submitter: Submitter,
  job: SubmitterJob,
  timeoutMs = 10_000,
): Promise<ProviderJobState> {
  const { agreement } = storedAgreement(job.jobId, job.agreement);
  const { host } = await submitter.network();
  const peer = peerIdFromString(agreement.providerPeerId);
  const signal = AbortSignal.timeout(timeoutMs);
  let channel: ReturnType<typeof frameChannel>;
  try {
    if (job.providerAddrs.length > 0)
      await host.peerStore.merge(peer, { multiaddrs: job.providerAddrs.map((a) => multiaddr(a)) });
    channel = frameChannel(await host.dialProtocol(peer, JOB_PROTOCOL, { signal }), MAX_JOB_FRAME_BYTES);
  } catch (error) {
    return { kind: "unreachable", message: (error as Error).message.split("\n")[0] ?? "" };
  }
  try {
    const attach = await signEnvelope(submitter.account, {
      chainId: submitter.clients.chain.id,
      kind: "JobAttach",
      peerId: host.peerId.toString(),
      expiresAt: Math.floor(Date.now() / 1000) + 600,
      payload: { jobId: job.jobId, logOffsets: job.logBytes },
    });
    await channel.write({ type: "attach", attach });
    const frame = await channel.read(providerFrame, { signal });
    if (frame.type === "end")
      return {
        kind: "ended",
        status: frame.status,
        reason: frame.reason,
        reasonCode: frame.reasonCode,
        exitCode: frame.exitCode,
        endedAt: frame.endedAt,
        jobAmount: frame.jobAmount,
      };
    if (frame.type === "attached") return { kind: "running", suspended: frame.suspended };
    if (frame.type === "error") return { kind: "unknown", message: `${frame.code}: ${frame.message}` };
    return { kind: "unknown", message: `unexpected ${frame.type} frame` };
  } catch (error) {
    return { kind: "unreachable", message: (error as Error).message.split("\n")[0] ?? "" };
  } finally {
    channel.abort(new Error("asked the job's state only"));
  }
}
