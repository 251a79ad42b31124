import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { beforeAll, describe, expect, it } from "vitest";
import { signEnvelope } from "../../../marketplace/messages/envelope.ts";
import type { Rate } from "../../../marketplace/messages/primitives.ts";
import type { DebitNote } from "../../../marketplace/messages/receipt.ts";
import {
  type AuditJobReceiptsParameters,
  auditJobReceipts,
} from "../../../marketplace/receipt/auditJobReceipts.ts";
import { ESCROW, GRID, HOUR_MS, PEER_A, PROVIDER_KEY, SUBMITTER_KEY } from "../messages/fixtures.ts";
import { type BilledJob, billedJob } from "./billedJob.ts";

const CHAIN_ID = 31337;
const CHANNEL = 4n;
const BASE = 1_000n;
// Hardhat's development key #2: a third party.
const OTHER_KEY: Hex = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const RATES: Rate[] = [
  {
    meter: "gpu_ms",
    price: GRID,
    per: HOUR_MS,
    tiers: { mode: "volume", bands: [{ upTo: 20_000n, price: 2n * GRID }] },
  },
  { meter: "cpu_core_ms", price: GRID / 50n, per: HOUR_MS },
];
const USAGES = [
  { gpu_ms: 5_000n, cpu_core_ms: 4_000n },
  { gpu_ms: 10_000n, cpu_core_ms: 9_000n },
  { gpu_ms: 25_000n, cpu_core_ms: 9_000n },
];

let job: BilledJob;
beforeAll(async () => {
  job = await billedJob({
    chainId: CHAIN_ID,
    escrow: ESCROW,
    providerKey: PROVIDER_KEY,
    submitterKey: SUBMITTER_KEY,
    channelId: CHANNEL,
    channelBase: BASE,
    rates: RATES,
    minimumCharge: GRID / 1000n,
    usages: USAGES,
  });
});

function parameters(overrides: Partial<AuditJobReceiptsParameters> = {}): AuditJobReceiptsParameters {
  return {
    chainId: CHAIN_ID,
    signatures: job.signatures,
    channelId: CHANNEL,
    channelBase: BASE,
    notes: job.notes.map(({ note, envelope }) => ({ seq: note.seq, envelope, verdict: "accepted" })),
    vouchers: job.vouchers,
    ...overrides,
  };
}

async function failing(overrides: Partial<AuditJobReceiptsParameters>) {
  const { checks } = await auditJobReceipts(parameters(overrides));
  return Object.fromEntries(checks.filter((c) => !c.ok).map((c) => [c.name, c.detail]));
}

/** A note the provider really signs (so only what is wrong inside it can be caught). */
async function providerSigns(note: DebitNote, chainId = CHAIN_ID, key: Hex = PROVIDER_KEY) {
  return signEnvelope(privateKeyToAccount(key), {
    chainId,
    kind: "DebitNote",
    peerId: PEER_A,
    expiresAt: Math.floor(Date.now() / 1000) + 600,
    payload: note,
  });
}

const notesWith = async (seq: number, envelope: unknown) =>
  job.notes.map((n) => ({
    seq: n.note.seq,
    envelope: n.note.seq === seq ? envelope : n.envelope,
    verdict: "accepted",
  }));

describe("auditJobReceipts", () => {
  it("passes every check of an honest job, tiers and minimum charge included", async () => {
    const { checks, accepted, agreement } = await auditJobReceipts(parameters());
    expect(checks.map((c) => [c.name, c.ok])).toEqual([
      ["agreement signatures", true],
      ["note signatures", true],
      ["note amounts", true],
      ["note sequence", true],
      ["monotonic amounts", true],
      ["vouchers match notes", true],
    ]);
    expect(accepted.map((n) => n.seq)).toEqual([0, 1, 2]);
    expect(agreement?.minimumCharge).toBe(GRID / 1000n);
  });

  it("catches a stored note whose payload was edited after it was signed", async () => {
    const original = job.notes[1]?.envelope;
    if (original === undefined) throw new Error("fixture");
    const payload = original.payload.replace(/"jobAmount":"\d+"/, '"jobAmount":"1"');
    expect(payload).not.toBe(original.payload);
    const problems = await failing({ notes: await notesWith(1, { ...original, payload }) });
    expect(problems["note signatures"]).toMatch(/^note 1: bad-signature/);
    // The forged note is not trusted for anything else either.
    expect(problems["note sequence"]).toMatch(/1 accepted note\(s\) failed their signature check/);
    expect(problems["vouchers match notes"]).toMatch(/no accepted note 1/);
  });

  it("catches a note signed by someone other than the provider, or for another chain", async () => {
    const note = job.notes[0]?.note as DebitNote;
    const byOther = await failing({
      notes: await notesWith(0, await providerSigns(note, CHAIN_ID, OTHER_KEY)),
    });
    expect(byOther["note signatures"]).toMatch(/^note 0: signed by 0x[0-9a-fA-F]{40}, not the provider/);
    const elsewhere = await failing({ notes: await notesWith(0, await providerSigns(note, 1)) });
    expect(elsewhere["note signatures"]).toMatch(/^note 0: bad-signature/);
  });

  it("recomputes amounts instead of trusting the signed figures", async () => {
    const note = job.notes[2]?.note as DebitNote;
    const overbilled = {
      ...note,
      jobAmount: note.jobAmount + 1n,
      channelCumulative: note.channelCumulative + 1n,
    };
    const problems = await failing({ notes: await notesWith(2, await providerSigns(overbilled)) });
    expect(problems["note amounts"]).toBe(
      `note 2: bills ${note.jobAmount + 1n}, its usage rates to ${note.jobAmount}`,
    );
    // The voucher was for the honest amount, so it no longer matches the (signed) note either.
    expect(problems["vouchers match notes"]).toMatch(
      /voucher for note 2: \d+, the note's channel cumulative is/,
    );

    const flat = { ...note, rates: RATES.map(({ tiers: _t, ...r }) => r) };
    expect((await failing({ notes: await notesWith(2, await providerSigns(flat)) }))["note amounts"]).toBe(
      "note 2: rates differ from the agreement",
    );
    const wrongBase = await failing({ channelBase: BASE + 1n });
    expect(wrongBase["note amounts"]).toMatch(/^note 0: channel cumulative \d+ is not 1001 \+ \d+/);
  });

  it("catches a gap in the notes and a voucher without its note", async () => {
    const notes = (await notesWith(-1, undefined)).filter((n) => n.seq !== 1);
    const problems = await failing({ notes });
    expect(problems["note sequence"]).toBe("expected note 1, found 2");
    expect(problems["vouchers match notes"]).toMatch(/no accepted note 1/);
  });

  it("catches amounts that go down between notes", async () => {
    const second = job.notes[1]?.note as DebitNote;
    const third = job.notes[2]?.note as DebitNote;
    const lower = { ...third, usage: second.usage.map((u) => ({ ...u, quantity: u.quantity - 1n })) };
    const rated = {
      ...lower,
      jobAmount: second.jobAmount - 1n,
      channelCumulative: second.channelCumulative - 1n,
    };
    const problems = await failing({ notes: await notesWith(2, await providerSigns(rated)) });
    expect(problems["monotonic amounts"]).toMatch(/note 2: amount went down; note 2: gpu_ms went down/);
  });

  it("catches a voucher whose amount was changed in the store, or that the payer did not sign", async () => {
    const vouchers = job.vouchers.map((v) =>
      v.noteSeq === 1 ? { ...v, cumulativeAmount: v.cumulativeAmount + 5n } : v,
    );
    const changed = await failing({ vouchers });
    expect(changed["vouchers match notes"]).toMatch(
      /voucher for note 1: \d+, the note's channel cumulative is \d+; voucher for note 1: signed by 0x/,
    );
    const [first, ...rest] = job.vouchers;
    if (first === undefined) throw new Error("fixture");
    const other = job.vouchers[1]?.signature as Hex;
    const swapped = await failing({ vouchers: [{ ...first, signature: other }, ...rest] });
    expect(swapped["vouchers match notes"]).toMatch(
      /^voucher for note 0: signed by 0x[0-9a-fA-F]{40}, not the payer/,
    );
    const missing = await failing({ vouchers: rest });
    expect(missing["vouchers match notes"]).toBe("accepted note 0 has no signed voucher");
  });

  it("stops at an agreement whose countersignature does not hold", async () => {
    const submitter = {
      ...job.signatures.submitter,
      payload: job.signatures.submitter.payload.replace('"gpus":1', '"gpus":2'),
    };
    const { checks, agreement } = await auditJobReceipts(
      parameters({ signatures: { provider: job.signatures.provider, submitter } }),
    );
    expect(agreement).toBeUndefined();
    expect(checks).toEqual([
      {
        name: "agreement signatures",
        ok: false,
        detail: expect.stringMatching(/^our countersignature: bad-signature/),
      },
    ]);
  });

  it("accepts one voucher for consecutive notes that billed the same amount (an idle interval)", async () => {
    const idle = await billedJob({
      chainId: CHAIN_ID,
      escrow: ESCROW,
      providerKey: PROVIDER_KEY,
      submitterKey: SUBMITTER_KEY,
      channelId: CHANNEL,
      channelBase: BASE,
      rates: RATES,
      usages: [{ gpu_ms: 5_000n }, { gpu_ms: 5_000n }, { gpu_ms: 9_000n }],
    });
    // The store keeps one voucher row per channel amount: note 1's voucher is note 0's.
    const vouchers = idle.vouchers.filter((v) => v.noteSeq !== 1);
    const { checks } = await auditJobReceipts({
      ...parameters(),
      signatures: idle.signatures,
      notes: idle.notes.map(({ note, envelope }) => ({ seq: note.seq, envelope, verdict: "accepted" })),
      vouchers,
    });
    expect(checks.filter((c) => !c.ok)).toEqual([]);
  });

  it("audits refused notes' signatures but bills only the accepted ones", async () => {
    const notes = job.notes.map(({ note, envelope }) => ({
      seq: note.seq,
      envelope,
      verdict: note.seq === 2 ? "amount exceeds the budget" : "accepted",
    }));
    const { checks, accepted } = await auditJobReceipts(
      parameters({ notes, vouchers: job.vouchers.filter((v) => v.noteSeq < 2) }),
    );
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.find((c) => c.name === "note signatures")?.detail).toMatch(/^3 note\(s\)/);
    expect(accepted.map((n) => n.seq)).toEqual([0, 1]);
  });
});
