// Prints the README's CLI command reference, generated from the CLI's own definitions; with
// `--write` it replaces the block between the markers in README.md. A test checks they agree.
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { commandReference, REFERENCE_END, REFERENCE_START } from "../marketplace/cli/commandReference.ts";
import { buildProgram } from "../marketplace/cli/program.ts";

const program = buildProgram({ jobCommand: [] }, {}, "0.0.0", { writeOut: () => {}, writeErr: () => {} });
const reference = commandReference(program);
if (!process.argv.includes("--write")) {
  process.stdout.write(`${reference}\n`);
} else {
  const path = join(import.meta.dirname, "..", "README.md");
  const readme = await readFile(path, "utf8");
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start === -1 || end === -1)
    throw new Error(`README.md has no ${REFERENCE_START} … ${REFERENCE_END} block`);
  await writeFile(path, `${readme.slice(0, start)}${reference}${readme.slice(end + REFERENCE_END.length)}`);
  process.stderr.write("README.md: command reference updated\n");
}
