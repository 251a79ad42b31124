import { readFileSync } from "node:fs";
import { type Command, CommanderError } from "commander";
import { BaseError } from "../errors/base.ts";
import { UsageError } from "../errors/usage.ts";
import { toJson } from "../messages/json.ts";
import { chainContext } from "./chainContext.ts";
import { buildProgram, type ExternalCommands, type Invocation } from "./program.ts";

export type { ExternalCommands } from "./program.ts";

/** The package's version, for `--version`. */
export const VERSION = (
  JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }
).version;

/** Exit codes (see the help's list). */
export const EXIT = { ok: 0, error: 1, usage: 2, wallet: 4, pending: 8 } as const;

/** Errors a person fixes in their wallet: no wallet, a wrong password, not enough GRID or gas. */
const WALLET_ERRORS = new Set([
  "KeystoreError",
  "InsufficientFundsError",
  "NoGasError",
  "NotEnoughGridError",
]);

/** Runs one CLI invocation and returns its exit code. Printing happens only here. */
export async function main(argv: string[], external: ExternalCommands = {}): Promise<number> {
  // Everything after `--` belongs to the job's command line (`job submit`, `endpoint deploy`), its
  // own flags included.
  const end = argv.indexOf("--");
  const front = end === -1 ? argv : argv.slice(0, end);
  const submitting = front.some(
    (t, i) => (t === "job" && front[i + 1] === "submit") || (t === "endpoint" && front[i + 1] === "deploy"),
  );
  const json = front.includes("--json");
  const invocation: Invocation = { jobCommand: submitting && end !== -1 ? argv.slice(end + 1) : [] };
  let usageMessage: string | undefined;
  const program = buildProgram(invocation, external, VERSION, {
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s) => {
      usageMessage = s.replace(/^error: /, "").trim();
    },
  });
  try {
    // A bare group (`gridspot wallet`), or nothing at all, prints its help like `--help`.
    const bare = program.commands.find((c) => c.name() === front[0]);
    if (front.length === 0) {
      program.outputHelp();
      return EXIT.ok;
    }
    if (bare !== undefined && front.length === 1) {
      bare.outputHelp();
      return EXIT.ok;
    }
    await program.parseAsync(submitting ? front : argv, { from: "user" });
    const result = invocation.result;
    if (result === undefined) return EXIT.ok;
    // A command whose output is the job's own (job logs) has no text of its own to add.
    if (json || result.text !== "")
      process.stdout.write(json ? `${toJson(result.json)}\n` : `${result.text}\n`);
    return result.exitCode ?? EXIT.ok;
  } catch (caught) {
    if (caught instanceof CommanderError) {
      if (caught.code === "commander.helpDisplayed" || caught.code === "commander.version") return EXIT.ok;
      // A group without its command, among other flags: its help went to stderr.
      if (caught.code === "commander.help") return EXIT.usage;
      const error = new UsageError(usageMessage ?? caught.message.replace(/^error: /, ""), {
        metaMessages: [`See \`${["gridspot", ...knownWords(program, front), "--help"].join(" ")}\`.`],
      });
      return report(error, json);
    }
    // Loaded only on this path: viem and the contracts' ABIs are large.
    const { explainChainError } = await import("../chain/explainChainError.ts");
    return report(explainChainError(caught, chainContext), json);
  }
}

/** The leading words of an argv that name a group and a command of the tree. */
function knownWords(program: Command, argv: string[]): string[] {
  const out: string[] = [];
  let at: Command = program;
  for (const t of argv) {
    if (t.startsWith("-")) continue;
    const next = at.commands.find((c) => c.name() === t);
    if (next === undefined) break;
    out.push(t);
    at = next;
  }
  return out;
}

/** Writes an error in words (JSON on stdout too with --json) and returns its exit code. */
function report(error: unknown, json: boolean): number {
  const code = exitCodeOf(error);
  const debug = process.env.GRIDSPOT_DEBUG === "1";
  let message: string;
  if (error instanceof BaseError) {
    message = error.message;
    if (debug && error.stack !== undefined) message += `\n${error.stack}`;
  } else if (error instanceof Error) {
    // Not foreseen: the message, and the stack trace only on request.
    message = debug
      ? (error.stack ?? error.message)
      : `${error.message.split("\n")[0] ?? ""}\n\n(an unexpected error: GRIDSPOT_DEBUG=1 shows where it happened)`;
  } else {
    message = String(error);
  }
  if (json) {
    process.stdout.write(
      `${toJson({
        error: {
          name: error instanceof Error ? error.name : "Error",
          message:
            error instanceof BaseError
              ? error.shortMessage
              : error instanceof Error
                ? error.message
                : String(error),
          ...(error instanceof BaseError && error.metaMessages.length > 0
            ? { hints: error.metaMessages }
            : {}),
        },
      })}\n`,
    );
  }
  process.stderr.write(`gridspot: ${message}\n`);
  return code;
}

function exitCodeOf(error: unknown): number {
  if (error instanceof UsageError) return EXIT.usage;
  if (error instanceof BaseError && WALLET_ERRORS.has(error.name)) return EXIT.wallet;
  return EXIT.error;
}
