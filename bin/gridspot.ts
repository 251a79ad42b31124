#!/usr/bin/env node
// The executable composes the two trees: the CLI lives in marketplace/, and `provider start` runs
// the provider node from node/ (marketplace/ never imports node/). The node loads only when one of
// its commands runs, so help and the other commands start fast.
import { main } from "../marketplace/cli/main.ts";

const code = await main(process.argv.slice(2), {
  "provider start": async (options, flags) =>
    (await import("../node/cli/providerStart.ts")).providerStart(options, flags),
  "provider reconcile": async (options, flags) =>
    (await import("../node/cli/providerReconcile.ts")).providerReconcile(options, flags),
});
// Exit now: a command that failed half-way (a provider whose start failed after joining the
// network) must not linger on open sockets. stdout and stderr are synchronous for files and pipes.
process.exit(code);
