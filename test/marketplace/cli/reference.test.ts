import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  commandReference,
  REFERENCE_END,
  REFERENCE_START,
} from "../../../marketplace/cli/commandReference.ts";
import { buildProgram, listCommands } from "../../../marketplace/cli/program.ts";

const program = buildProgram({ jobCommand: [] }, {}, "0.0.0", { writeOut: () => {}, writeErr: () => {} });

describe("the README's command reference", () => {
  it("is what the CLI's own definitions generate (`node scripts/cliReference.ts --write` updates it)", async () => {
    const readme = await readFile(join(import.meta.dirname, "../../../README.md"), "utf8");
    const start = readme.indexOf(REFERENCE_START);
    const end = readme.indexOf(REFERENCE_END);
    expect(start).toBeGreaterThan(-1);
    expect(readme.slice(start, end + REFERENCE_END.length)).toBe(commandReference(program));
  });

  it("covers every command of DESIGN §8 this CLI has", () => {
    const names = listCommands(program).map((c) => c.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "wallet create",
        "wallet balance",
        "wallet faucet",
        "wallet deposit",
        "wallet withdraw",
        "market offers",
        "market prices",
        "market quote",
        "job submit",
        "job status",
        "job list",
        "job invoice",
        "job verify",
        "channel list",
        "channel close",
        "provider start",
        "provider register",
        "provider stake",
        "provider unstake",
        "provider withdraw-stake",
        "provider status",
        "provider redeem",
        "provider reconcile",
        "chain deploy",
      ]),
    );
  });
});
