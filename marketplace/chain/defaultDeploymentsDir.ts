import { join } from "node:path";

/** `deployments/` of this checkout, unless GRIDSPOT_DEPLOYMENTS_DIR points elsewhere. */
export function defaultDeploymentsDir(): string {
  return process.env.GRIDSPOT_DEPLOYMENTS_DIR ?? join(import.meta.dirname, "..", "..", "deployments");
}
