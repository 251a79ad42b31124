#!/usr/bin/env node
// The executable composes the two trees: the CLI lives in marketplace/, and `provider start` runs
// the provider node from node/ (marketplace/ never imports node/).
import { main } from "../marketplace/cli/main.ts";
import { providerReconcile } from "../node/cli/providerReconcile.ts";
import { providerStart } from "../node/cli/providerStart.ts";

process.exitCode = await main(process.argv.slice(2), {
  "provider start": providerStart,
  "provider reconcile": providerReconcile,
});
