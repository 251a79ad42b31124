#!/usr/bin/env node
// Runs an npm script of this project after making sure its toolchain is installed.
//
// A fresh machine may have only Node 20 and npm. Hardhat 3, EDR, Vitest and node:sqlite need
// Node >= 22, so the dependencies are installed under Node 24 from the npm registry
// (`npx -p node@24 npm install`: under Node 20, npm would skip EDR's native package). The `node`
// devDependency then puts Node 24 first on the PATH of every `npm run`.
//
// Plain JavaScript on purpose: this file must run on Node 20 before anything is installed.
//
// Usage: node scripts/setup/bootstrap.mjs <script> [args...]  (runs `npm run <script> -- args`)
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const stampFile = join(root, "node_modules", ".gridspot-install");
const nodeBin = join(root, "node_modules", ".bin");

function lockHash() {
  return createHash("sha256")
    .update(readFileSync(join(root, "package-lock.json")))
    .update(process.platform + process.arch)
    .digest("hex");
}

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, stdio: "inherit", ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function ensureInstalled() {
  const wanted = lockHash();
  const ready =
    existsSync(stampFile) &&
    readFileSync(stampFile, "utf8") === wanted &&
    existsSync(join(nodeBin, "node")) &&
    existsSync(join(nodeBin, "hardhat"));
  if (ready) return;
  process.stderr.write("gridspot: installing dependencies under Node 24 (first run only)…\n");
  const major = Number(process.versions.node.split(".")[0]);
  // `npm install` (which follows the lockfile) rather than `npm ci`: npm leaves other platforms'
  // optional binaries (biome, EDR, anvil for macOS/Windows/arm) out of the lockfile when the
  // registry lacks them at the locked version, and `npm ci` then refuses the lockfile as out of sync.
  // `--loglevel=notice` overrides the project's .npmrc (`loglevel=silent`, which keeps npm's script
  // banner off stdout): an install that fails must say why.
  const install = ["install", "--no-audit", "--no-fund", "--loglevel=notice"];
  const [command, args] =
    major >= 22 ? ["npm", install] : ["npx", ["-y", "-p", "node@24", "npm", ...install]];
  // npm's progress goes to stderr so that `--json` output on stdout stays one document.
  const status = run(command, args, { stdio: ["ignore", 2, 2] });
  if (status !== 0) {
    process.stderr.write(`gridspot: dependency install failed (exit ${status})\n`);
    process.exit(status);
  }
  // Hash the lockfile as the install left it: `npm install` may have brought it in sync.
  writeFileSync(stampFile, lockHash());
}

const [script, ...args] = process.argv.slice(2);
if (!script) {
  process.stderr.write("usage: node scripts/setup/bootstrap.mjs <npm script> [args...]\n");
  process.exit(2);
}
ensureInstalled();
const env = { ...process.env, PATH: `${nodeBin}${delimiter}${process.env.PATH ?? ""}` };
process.exit(run("npm", ["run", "--silent", script, ...(args.length > 0 ? ["--", ...args] : [])], { env }));
