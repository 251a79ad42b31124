import { BaseError } from "../errors/base.ts";
import type { Migration } from "../store/migration.ts";
import { openStore, type Store } from "../store/openStore.ts";
import { withTransaction } from "../store/withTransaction.ts";
import { currentOwner } from "./processOwner.ts";
import { SpendCapError, type SpendCaps, spendCapRefusal } from "./spendCapRefusal.ts";

/**
 * The submitter's durable state (DESIGN §7): channels and what was signed on them, jobs, the notes
 * received and the vouchers signed. A voucher is written here before it is sent, so a CLI that
 * restarts never signs below what it already promised, nor forgets a promise.
 */
export const SUBMITTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "channels, jobs, notes, vouchers",
    sql: `
      CREATE TABLE channels (
        channel_id TEXT PRIMARY KEY NOT NULL,
        escrow     TEXT NOT NULL,
        provider   TEXT NOT NULL,
        amount     TEXT NOT NULL,
        signed     TEXT NOT NULL,
        expiry     INTEGER NOT NULL,
        status     TEXT NOT NULL,
        busy_job   TEXT
      ) STRICT;
      CREATE TABLE jobs (
        job_id      TEXT PRIMARY KEY NOT NULL,
        provider    TEXT NOT NULL,
        channel_id  TEXT NOT NULL,
        channel_base TEXT NOT NULL,
        agreement   TEXT NOT NULL,
        spec        TEXT NOT NULL,
        budget      TEXT NOT NULL,
        status      TEXT NOT NULL,
        exit_code   INTEGER,
        reason      TEXT NOT NULL,
        amount      TEXT NOT NULL,
        usage       TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        ended_at    INTEGER,
        redeem_tx   TEXT
      ) STRICT;
      CREATE TABLE notes (
        job_id   TEXT NOT NULL REFERENCES jobs (job_id),
        seq      INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        amount   TEXT NOT NULL,
        verdict  TEXT NOT NULL,
        PRIMARY KEY (job_id, seq)
      ) STRICT;
      CREATE TABLE vouchers (
        channel_id TEXT NOT NULL,
        cumulative TEXT NOT NULL,
        signature  TEXT NOT NULL,
        job_id     TEXT NOT NULL REFERENCES jobs (job_id),
        note_seq   INTEGER NOT NULL,
        signed_at  INTEGER NOT NULL,
        PRIMARY KEY (channel_id, cumulative, job_id)
      ) STRICT;
    `,
  },
  {
    version: 2,
    name: "budget alerts; vouchers by signing time (daily cap)",
    sql: `
      CREATE TABLE alerts (
        job_id    TEXT NOT NULL REFERENCES jobs (job_id),
        threshold INTEGER NOT NULL,
        amount    TEXT NOT NULL,
        fired_at  INTEGER NOT NULL,
        PRIMARY KEY (job_id, threshold)
      ) STRICT;
      CREATE INDEX vouchers_by_signed_at ON vouchers (signed_at);
    `,
  },
  {
    version: 3,
    name: "how each job ran",
    // As the provider reported it: when the job's first process started (with ended_at, the running
    // time billed), the runtime and image digest that ran it, and why it ended as a code.
    sql: `
      ALTER TABLE jobs ADD COLUMN started_at INTEGER;
      ALTER TABLE jobs ADD COLUMN runtime TEXT;
      ALTER TABLE jobs ADD COLUMN image_digest TEXT;
      ALTER TABLE jobs ADD COLUMN reason_code TEXT;
    `,
  },
  {
    version: 4,
    name: "the CLI process that runs each job",
    // `pid:starttime` of the process running the job: a job whose process is gone is settled as
    // `lost` and its channel freed (settleOrphanedJobs) instead of staying `running` forever.
    sql: `
      ALTER TABLE jobs ADD COLUMN owner TEXT;
    `,
  },
  {
    version: 5,
    name: "jobs run by the payer agent",
    // A detached job belongs to the payer agent, not to the CLI that submitted it: it survives the
    // agent's restart (the agent attaches again). What the agent needs to carry on after a restart:
    // the order's counted-meter ceilings, when the job started by our clock (the ceiling of every
    // time meter), and the bytes of each log stream written so far (the offsets it attaches with).
    // `outputs_dir` is where the outputs landed; `outputs_fetched_at` when `job outputs` took them.
    sql: `
      ALTER TABLE jobs ADD COLUMN detached INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN max_usage TEXT NOT NULL DEFAULT '{}';
      ALTER TABLE jobs ADD COLUMN local_started_at INTEGER;
      ALTER TABLE jobs ADD COLUMN stdout_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN stderr_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN outputs_dir TEXT;
      ALTER TABLE jobs ADD COLUMN outputs TEXT NOT NULL DEFAULT '[]';
      ALTER TABLE jobs ADD COLUMN outputs_fetched_at INTEGER;
      ALTER TABLE jobs ADD COLUMN provider_addrs TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    version: 6,
    name: "endpoints",
    // An endpoint (DESIGN §12) is one job per provider serving it, all with its id: the agent's
    // gateway routes `/e/<endpoint id>/…` to the running ones.
    sql: `
      ALTER TABLE jobs ADD COLUMN endpoint_id TEXT;
      CREATE INDEX jobs_by_endpoint ON jobs (endpoint_id) WHERE endpoint_id IS NOT NULL;
    `,
  },
];

/** The owner recorded for the payer agent's jobs: no CLI process owns them. */
export const AGENT_OWNER = "agent";

export function openSubmitterStore(path: string): Store {
  return openStore(path, { migrations: SUBMITTER_MIGRATIONS });
}

export type ChannelRecord = {
  channelId: bigint;
  escrow: string;
  provider: string;
  amount: bigint;
  signed: bigint;
  expiry: number;
  status: string;
  busyJob: string | null;
};

type ChannelRow = {
  channel_id: string;
  escrow: string;
  provider: string;
  amount: string;
  signed: string;
  expiry: number;
  status: string;
  busy_job: string | null;
};

const toChannel = (r: ChannelRow): ChannelRecord => ({
  channelId: BigInt(r.channel_id),
  escrow: r.escrow,
  provider: r.provider,
  amount: BigInt(r.amount),
  signed: BigInt(r.signed),
  expiry: r.expiry,
  status: r.status,
  busyJob: r.busy_job,
});

export function upsertChannel(store: Store, c: Omit<ChannelRecord, "busyJob">): void {
  store.db
    .prepare(
      `INSERT INTO channels (channel_id, escrow, provider, amount, signed, expiry, status) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (channel_id) DO UPDATE SET amount = excluded.amount, expiry = excluded.expiry, status = excluded.status`,
    )
    .run(
      c.channelId.toString(),
      c.escrow,
      c.provider,
      c.amount.toString(),
      c.signed.toString(),
      c.expiry,
      c.status,
    );
}

export function openChannelsTo(store: Store, escrow: string, provider: string): ChannelRecord[] {
  return (
    store.db
      .prepare(
        "SELECT * FROM channels WHERE escrow = ? AND provider = ? AND status = 'open' ORDER BY CAST(channel_id AS INTEGER)",
      )
      .all(escrow, provider) as ChannelRow[]
  ).map(toChannel);
}

export function getChannel(store: Store, channelId: bigint): ChannelRecord | undefined {
  const row = store.db.prepare("SELECT * FROM channels WHERE channel_id = ?").get(channelId.toString()) as
    | ChannelRow
    | undefined;
  return row === undefined ? undefined : toChannel(row);
}

/** Marks the channel busy with `jobId`; false when another job holds it. */
export function claimChannel(store: Store, channelId: bigint, jobId: string | null): boolean {
  const r = store.db
    .prepare(
      jobId === null
        ? "UPDATE channels SET busy_job = NULL WHERE channel_id = ?"
        : "UPDATE channels SET busy_job = ? WHERE channel_id = ? AND busy_job IS NULL",
    )
    .run(...(jobId === null ? [channelId.toString()] : [jobId, channelId.toString()]));
  return Number(r.changes) === 1;
}

export type SubmitterJob = {
  jobId: string;
  provider: string;
  channelId: bigint;
  channelBase: bigint;
  agreement: string;
  spec: string;
  budget: bigint;
  status: string;
  exitCode: number | null;
  reason: string;
  amount: bigint;
  usage: Record<string, string>;
  createdAt: number;
  /** When the job's first process started (the provider's clock), once it has. */
  startedAt: number | null;
  endedAt: number | null;
  redeemTx: string | null;
  /** `docker` or `process`. */
  runtime: string | null;
  /** The image that ran (repo digest or image ID). */
  imageDigest: string | null;
  /** Why it ended, as a code (see JOB_END_REASONS). */
  reasonCode: string | null;
  /** Run by the payer agent (`job submit --detach`) rather than by a CLI in a terminal. */
  detached: boolean;
  /** The order's ceilings on counted meters, as decimal strings. */
  maxUsage: Record<string, string>;
  /** When the provider said the job started, by this machine's clock. */
  localStartedAt: number | null;
  /** Bytes of the job's stdout and stderr received and written to its log files. */
  logBytes: { stdout: number; stderr: number };
  /** Where the outputs were written, and the files (their paths there). */
  outputsDir: string | null;
  outputs: string[];
  outputsFetchedAt: number | null;
  /** The provider's multiaddrs from its bid: where the agent dials it again. */
  providerAddrs: string[];
  /** The process running the job (`pid-starttime`), or AGENT_OWNER for the payer agent's. */
  owner: string | null;
  /** The endpoint this job serves (one job per provider of it); null for a batch job. */
  endpointId: string | null;
};

type JobRow = {
  job_id: string;
  provider: string;
  channel_id: string;
  channel_base: string;
  agreement: string;
  spec: string;
  budget: string;
  status: string;
  exit_code: number | null;
  reason: string;
  amount: string;
  usage: string;
  created_at: number;
  started_at: number | null;
  ended_at: number | null;
  redeem_tx: string | null;
  runtime: string | null;
  image_digest: string | null;
  reason_code: string | null;
  detached: number;
  max_usage: string;
  local_started_at: number | null;
  stdout_bytes: number;
  stderr_bytes: number;
  outputs_dir: string | null;
  outputs: string;
  outputs_fetched_at: number | null;
  provider_addrs: string;
  owner: string | null;
  endpoint_id: string | null;
};

const toJob = (r: JobRow): SubmitterJob => ({
  jobId: r.job_id,
  provider: r.provider,
  channelId: BigInt(r.channel_id),
  channelBase: BigInt(r.channel_base),
  agreement: r.agreement,
  spec: r.spec,
  budget: BigInt(r.budget),
  status: r.status,
  exitCode: r.exit_code,
  reason: r.reason,
  amount: BigInt(r.amount),
  usage: JSON.parse(r.usage) as Record<string, string>,
  createdAt: r.created_at,
  startedAt: r.started_at,
  endedAt: r.ended_at,
  redeemTx: r.redeem_tx,
  runtime: r.runtime,
  imageDigest: r.image_digest,
  reasonCode: r.reason_code,
  detached: r.detached === 1,
  maxUsage: JSON.parse(r.max_usage) as Record<string, string>,
  localStartedAt: r.local_started_at,
  logBytes: { stdout: r.stdout_bytes, stderr: r.stderr_bytes },
  outputsDir: r.outputs_dir,
  outputs: JSON.parse(r.outputs) as string[],
  outputsFetchedAt: r.outputs_fetched_at,
  providerAddrs: JSON.parse(r.provider_addrs) as string[],
  owner: r.owner,
  endpointId: r.endpoint_id,
});

export function insertSubmitterJob(
  store: Store,
  job: Pick<
    SubmitterJob,
    "jobId" | "provider" | "channelId" | "channelBase" | "agreement" | "spec" | "budget" | "createdAt"
  > &
    Partial<Pick<SubmitterJob, "detached" | "maxUsage" | "outputsDir" | "providerAddrs" | "endpointId">>,
): void {
  store.db
    .prepare(
      `INSERT INTO jobs (job_id, provider, channel_id, channel_base, agreement, spec, budget, status, reason, amount, usage, created_at, owner, detached, max_usage, outputs_dir, provider_addrs, endpoint_id)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'running', '', '0', '{}', ?, ?, ?, ?, ?, ?, ?)`,
    )
    .run(
      job.jobId,
      job.provider,
      job.channelId.toString(),
      job.channelBase.toString(),
      job.agreement,
      job.spec,
      job.budget.toString(),
      job.createdAt,
      job.detached === true ? AGENT_OWNER : currentOwner(),
      job.detached === true ? 1 : 0,
      JSON.stringify(job.maxUsage ?? {}),
      job.outputsDir ?? null,
      JSON.stringify(job.providerAddrs ?? []),
      job.endpointId ?? null,
    );
}

export function updateSubmitterJob(
  store: Store,
  jobId: string,
  fields: Partial<
    Pick<
      SubmitterJob,
      | "status"
      | "exitCode"
      | "reason"
      | "amount"
      | "usage"
      | "startedAt"
      | "endedAt"
      | "redeemTx"
      | "runtime"
      | "imageDigest"
      | "reasonCode"
      | "localStartedAt"
      | "logBytes"
      | "outputs"
      | "outputsFetchedAt"
    >
  >,
): void {
  const sets: string[] = [];
  const values: (string | number | null)[] = [];
  const add = (column: string, value: string | number | null) => {
    sets.push(`${column} = ?`);
    values.push(value);
  };
  if (fields.status !== undefined) add("status", fields.status);
  if (fields.exitCode !== undefined) add("exit_code", fields.exitCode);
  if (fields.reason !== undefined) add("reason", fields.reason);
  if (fields.amount !== undefined) add("amount", fields.amount.toString());
  if (fields.usage !== undefined) add("usage", JSON.stringify(fields.usage));
  if (fields.startedAt !== undefined) add("started_at", fields.startedAt);
  if (fields.endedAt !== undefined) add("ended_at", fields.endedAt);
  if (fields.runtime !== undefined) add("runtime", fields.runtime);
  if (fields.imageDigest !== undefined) add("image_digest", fields.imageDigest);
  if (fields.reasonCode !== undefined) add("reason_code", fields.reasonCode);
  if (fields.redeemTx !== undefined) add("redeem_tx", fields.redeemTx);
  if (fields.localStartedAt !== undefined) add("local_started_at", fields.localStartedAt);
  if (fields.logBytes !== undefined) {
    add("stdout_bytes", fields.logBytes.stdout);
    add("stderr_bytes", fields.logBytes.stderr);
  }
  if (fields.outputs !== undefined) add("outputs", JSON.stringify(fields.outputs));
  if (fields.outputsFetchedAt !== undefined) add("outputs_fetched_at", fields.outputsFetchedAt);
  if (sets.length === 0) return;
  store.db.prepare(`UPDATE jobs SET ${sets.join(", ")} WHERE job_id = ?`).run(...values, jobId);
}

export function getSubmitterJob(store: Store, jobId: string): SubmitterJob | undefined {
  const row = store.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId) as JobRow | undefined;
  return row === undefined ? undefined : toJob(row);
}

/** The agent's jobs still running: the ones it attaches to again when it starts. */
export function listDetachedRunningJobs(store: Store): SubmitterJob[] {
  return (
    store.db
      .prepare("SELECT * FROM jobs WHERE detached = 1 AND status = 'running' ORDER BY created_at")
      .all() as JobRow[]
  ).map(toJob);
}

/** The jobs of one endpoint (every provider it was placed with, oldest first). */
export function listEndpointJobs(store: Store, endpointId: string): SubmitterJob[] {
  return (
    store.db
      .prepare("SELECT * FROM jobs WHERE endpoint_id = ? ORDER BY created_at")
      .all(endpointId) as JobRow[]
  ).map(toJob);
}

/** Every endpoint's id, the newest first. */
export function listEndpointIds(store: Store, limit = 50): string[] {
  return (
    store.db
      .prepare(
        "SELECT endpoint_id FROM jobs WHERE endpoint_id IS NOT NULL GROUP BY endpoint_id ORDER BY MAX(created_at) DESC LIMIT ?",
      )
      .all(limit) as { endpoint_id: string }[]
  ).map((r) => r.endpoint_id);
}

export function listSubmitterJobs(store: Store, limit = 50): SubmitterJob[] {
  return (store.db.prepare("SELECT * FROM jobs ORDER BY created_at DESC LIMIT ?").all(limit) as JobRow[]).map(
    toJob,
  );
}

export function insertNoteRecord(
  store: Store,
  n: { jobId: string; seq: number; envelope: string; amount: bigint; verdict: string },
): void {
  store.db
    .prepare("INSERT OR REPLACE INTO notes (job_id, seq, envelope, amount, verdict) VALUES (?, ?, ?, ?, ?)")
    .run(n.jobId, n.seq, n.envelope, n.amount.toString(), n.verdict);
}

export function listNoteRecords(store: Store, jobId: string) {
  return (
    store.db
      .prepare("SELECT seq, envelope, amount, verdict FROM notes WHERE job_id = ? ORDER BY seq")
      .all(jobId) as {
      seq: number;
      envelope: string;
      amount: string;
      verdict: string;
    }[]
  ).map((r) => ({ ...r, amount: BigInt(r.amount) }));
}

/**
 * Records a signed voucher and raises what the channel has signed, in one transaction, before the
 * voucher leaves this machine. Refuses to go below what was already signed. With `caps`, the spend
 * caps are checked inside the same transaction (which holds the write lock), so two CLIs signing at
 * once cannot both slip under the daily cap.
 * @throws SpendCapError when the voucher would cross a cap; nothing is recorded then.
 */
export function recordSignedVoucher(
  store: Store,
  v: { channelId: bigint; cumulative: bigint; signature: string; jobId: string; noteSeq: number },
  caps?: SpendCaps,
  now: number = Date.now(),
): void {
  withTransaction(store.db, () => {
    const row = store.db
      .prepare("SELECT signed FROM channels WHERE channel_id = ?")
      .get(v.channelId.toString()) as { signed: string } | undefined;
    if (row === undefined) throw new BaseError(`unknown channel ${v.channelId}`);
    if (BigInt(row.signed) > v.cumulative)
      throw new BaseError(`channel ${v.channelId} already signed above ${v.cumulative}`);
    if (caps !== undefined) {
      const refusal = spendCapRefusal(store, caps, {
        channelId: v.channelId,
        cumulative: v.cumulative,
        channelSigned: BigInt(row.signed),
        now,
      });
      if (refusal !== undefined) throw new SpendCapError(refusal);
    }
    store.db
      .prepare(
        "INSERT OR IGNORE INTO vouchers (channel_id, cumulative, signature, job_id, note_seq, signed_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(v.channelId.toString(), v.cumulative.toString(), v.signature, v.jobId, v.noteSeq, now);
    store.db
      .prepare("UPDATE channels SET signed = ? WHERE channel_id = ?")
      .run(v.cumulative.toString(), v.channelId.toString());
  });
}

export function listJobVouchers(store: Store, jobId: string) {
  return (
    store.db.prepare("SELECT * FROM vouchers WHERE job_id = ? ORDER BY note_seq").all(jobId) as {
      channel_id: string;
      cumulative: string;
      signature: string;
      note_seq: number;
      signed_at: number;
    }[]
  ).map((r) => ({
    channelId: BigInt(r.channel_id),
    cumulativeAmount: BigInt(r.cumulative),
    signature: r.signature,
    noteSeq: r.note_seq,
    signedAt: r.signed_at,
  }));
}

/**
 * Marks `threshold` % of the job's budget as alerted; false when it already was (by this process or
 * an earlier one), so each threshold alerts once per job.
 */
export function recordAlert(
  store: Store,
  a: { jobId: string; threshold: number; amount: bigint; firedAt: number },
): boolean {
  const r = store.db
    .prepare("INSERT OR IGNORE INTO alerts (job_id, threshold, amount, fired_at) VALUES (?, ?, ?, ?)")
    .run(a.jobId, a.threshold, a.amount.toString(), a.firedAt);
  return Number(r.changes) === 1;
}

export function listAlerts(store: Store, jobId: string) {
  return (
    store.db
      .prepare("SELECT threshold, amount, fired_at FROM alerts WHERE job_id = ? ORDER BY threshold")
      .all(jobId) as { threshold: number; amount: string; fired_at: number }[]
  ).map((r) => ({ threshold: r.threshold, amount: BigInt(r.amount), firedAt: r.fired_at }));
}
