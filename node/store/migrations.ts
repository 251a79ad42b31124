import type { Migration } from "../../marketplace/store/migration.ts";

/**
 * The node store's schema history. Append only: a released migration never changes, since
 * databases in the field already ran it. Versions are 1, 2, 3… in order.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "usage events",
    // quantity is a 64-bit INTEGER, bound and read as bigint. Safe: one job's cumulative usage stays
    // far below 2^63 − 1 (1 TiB of RAM for a year is 3.3e16 mem_mib_ms), inserts above it are refused
    // in code, and SQLite's SUM() raises "integer overflow" instead of wrapping or going to float.
    // The PRIMARY KEY on id is the seen-event set: the id and the event are stored in one row.
    sql: `
      CREATE TABLE usage_events (
        id        TEXT    PRIMARY KEY NOT NULL CHECK (id <> ''),
        job_id    TEXT    NOT NULL CHECK (job_id <> ''),
        source    TEXT    NOT NULL CHECK (source <> ''),
        meter     TEXT    NOT NULL,
        quantity  INTEGER NOT NULL CHECK (quantity >= 0),
        time      INTEGER NOT NULL CHECK (time >= 0),
        gpu_class TEXT,
        note_seq  INTEGER CHECK (note_seq IS NULL OR note_seq >= 0)
      ) STRICT;
      CREATE INDEX usage_events_by_job_note ON usage_events (job_id, note_seq);
    `,
  },
  {
    version: 2,
    name: "jobs, debit notes, vouchers, redemptions",
    // Money columns are TEXT decimal strings: token amounts pass 2^63 base units at 9.2 GRID.
    // sort_key is the amount zero-padded to 78 digits, so text order is numeric order.
    sql: `
  CREATE TABLE jobs (
    job_id       TEXT PRIMARY KEY NOT NULL,
    order_id     TEXT NOT NULL,
    submitter    TEXT NOT NULL,
    channel_id   TEXT NOT NULL,
    channel_base TEXT NOT NULL,
    agreement    TEXT NOT NULL,
    status       TEXT NOT NULL,
    exit_code    INTEGER,
    reason       TEXT NOT NULL,
    started_at   INTEGER NOT NULL,
    ended_at     INTEGER,
    job_amount   TEXT NOT NULL
  ) STRICT;
  CREATE INDEX jobs_by_channel ON jobs (channel_id, status);
  CREATE TABLE debit_notes (
    job_id             TEXT NOT NULL REFERENCES jobs (job_id),
    seq                INTEGER NOT NULL,
    envelope           TEXT NOT NULL,
    job_amount         TEXT NOT NULL,
    channel_cumulative TEXT NOT NULL,
    events_hash        TEXT NOT NULL,
    created_at         INTEGER NOT NULL,
    PRIMARY KEY (job_id, seq)
  ) STRICT;
  CREATE TABLE vouchers (
    channel_id        TEXT NOT NULL,
    cumulative_amount TEXT NOT NULL,
    sort_key          TEXT NOT NULL,
    signature         TEXT NOT NULL,
    job_id            TEXT NOT NULL REFERENCES jobs (job_id),
    note_seq          INTEGER NOT NULL,
    received_at       INTEGER NOT NULL,
    -- A job that used nothing signs the amount the job before it signed: same amount, own row.
    PRIMARY KEY (channel_id, sort_key, job_id)
  ) STRICT;
  CREATE TABLE redemptions (
    tx_hash           TEXT NOT NULL,
    channel_id        TEXT NOT NULL,
    cumulative_amount TEXT NOT NULL,
    sort_key          TEXT NOT NULL,
    status            TEXT NOT NULL,
    block_number      TEXT,
    created_at        INTEGER NOT NULL,
    PRIMARY KEY (tx_hash, channel_id)
  ) STRICT;
  CREATE INDEX redemptions_by_channel ON redemptions (channel_id, status, sort_key);
`,
  },
  {
    version: 3,
    name: "job terms",
    // The signed agreement of each job (JSON, bigints as decimal strings): the rates and granularity
    // the ledger is rated with when it is reconciled against notes, vouchers and the chain. No
    // foreign key: terms are written as the job starts and never change.
    sql: `
  CREATE TABLE job_terms (
    job_id    TEXT PRIMARY KEY NOT NULL,
    agreement TEXT NOT NULL
  ) STRICT;
`,
  },
  {
    version: 4,
    name: "vouchers per note",
    // The vouchers table keeps one row per channel and amount, so a voucher for a note that billed
    // the same amount as an earlier one (a minimum charge, an idle interval) leaves no trace of that
    // note being signed. This records every note the payer signed a voucher for, so the node knows
    // exactly which notes were accepted (its invoice is built from them).
    sql: `
  CREATE TABLE note_vouchers (
    job_id            TEXT NOT NULL,
    note_seq          INTEGER NOT NULL CHECK (note_seq >= 0),
    cumulative_amount TEXT NOT NULL,
    received_at       INTEGER NOT NULL,
    PRIMARY KEY (job_id, note_seq)
  ) STRICT;
`,
  },
  {
    version: 5,
    name: "how each job ran",
    // The runtime and image digest that ran the job, and why it ended as a code both sides see
    // (`exit`, `timeout`, `oom`, `pids`, `disk-quota`, `cancelled`, …). `started_at` is rewritten to
    // the moment the job's first process started once the runtime has started it.
    sql: `
  ALTER TABLE jobs ADD COLUMN runtime TEXT;
  ALTER TABLE jobs ADD COLUMN image_digest TEXT;
  ALTER TABLE jobs ADD COLUMN reason_code TEXT;
`,
  },
  {
    version: 6,
    name: "redemption queue",
    // What to redeem is already known: each channel's newest voucher above its redemptions that
    // count (vouchers, redemptions). This keeps only the queue's own state per channel: attempts and
    // when to try again (backoff while the chain is unreachable), the last error, the channel's
    // redeem deadline as last read on-chain, and when a near deadline was last warned about.
    // Redemptions gain two statuses: `sent` (mined or not, not yet counted) and `dropped` (the chain
    // lost it: a reorg or a reloaded node); only `confirmed` (N confirmations) counts as paid.
    sql: `
  CREATE TABLE redemption_queue (
    channel_id      TEXT PRIMARY KEY NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    deadline        INTEGER,
    warned_at       INTEGER
  ) STRICT;
`,
  },
  {
    version: 7,
    name: "one voucher row per signed note",
    // One fact, one table: `vouchers` (one row per channel amount and job) and `note_vouchers` (one
    // row per signed note, without the signature) both said which notes the payer signed. Now
    // `vouchers` holds one row per signed note, with its signature; the rows of equal amount carry the
    // same signature (same typed data). Old rows move over: a note_vouchers row takes the signature of
    // its job's voucher of the same amount.
    sql: `
  CREATE TABLE vouchers_by_note (
    job_id            TEXT NOT NULL REFERENCES jobs (job_id),
    note_seq          INTEGER NOT NULL CHECK (note_seq >= 0),
    channel_id        TEXT NOT NULL,
    cumulative_amount TEXT NOT NULL,
    sort_key          TEXT NOT NULL,
    signature         TEXT NOT NULL,
    received_at       INTEGER NOT NULL,
    PRIMARY KEY (job_id, note_seq)
  ) STRICT;
  INSERT OR IGNORE INTO vouchers_by_note
    SELECT job_id, note_seq, channel_id, cumulative_amount, sort_key, signature, received_at FROM vouchers;
  INSERT OR IGNORE INTO vouchers_by_note
    SELECT n.job_id, n.note_seq, v.channel_id, n.cumulative_amount, v.sort_key, v.signature, n.received_at
    FROM note_vouchers n JOIN vouchers v ON v.job_id = n.job_id AND v.cumulative_amount = n.cumulative_amount;
  DROP TABLE note_vouchers;
  DROP TABLE vouchers;
  ALTER TABLE vouchers_by_note RENAME TO vouchers;
  CREATE INDEX vouchers_by_channel ON vouchers (channel_id, sort_key);
`,
  },
  {
    version: 8,
    name: "one place for a job's agreement",
    // One fact, one table: `job_terms` (migration 3) held again the agreement `jobs.agreement` holds
    // as its signed pair (the agreement is the provider envelope's payload). Nothing is lost: the job
    // service inserts the jobs row before the job runs, and only a running job wrote its terms, from
    // the same held agreement; a job from before migration 3 has its agreement in `jobs` too.
    sql: `
  DROP TABLE job_terms;
`,
  },
];
