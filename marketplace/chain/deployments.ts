import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Deployment, deploymentJsonSchema, stringifyDeployment } from "./deployment.ts";
import { DeploymentNotFoundError, InvalidDeploymentError } from "./errors.ts";

/** The file that holds the deployment for `chainId`: `<dir>/<chainId>.json`. */
export function deploymentPath(dir: string, chainId: number): string {
  return join(dir, `${chainId}.json`);
}

/**
 * Writes `<dir>/<chainId>.json` (pretty JSON, bigints as decimal strings), creating `dir` when
 * needed. The file is replaced in one rename, so a reader never sees half of it.
 */
export async function writeDeployment(dir: string, deployment: Deployment): Promise<string> {
  const file = deploymentPath(dir, deployment.chainId);
  await mkdir(dir, { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, stringifyDeployment(deployment));
  await rename(temporary, file);
  return file;
}

/** Reads and validates `<dir>/<chainId>.json`; every problem names the file and the field. */
export async function readDeployment(dir: string, chainId: number): Promise<Deployment> {
  const file = deploymentPath(dir, chainId);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new DeploymentNotFoundError(chainId, file);
    throw new InvalidDeploymentError(file, "the file cannot be read.", { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new InvalidDeploymentError(file, "it is not valid JSON.", { cause: error });
  }
  const parsed = deploymentJsonSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.length === 0 ? "(root)" : issue.path.join(".")}: ${issue.message}`,
    );
    throw new InvalidDeploymentError(file, `${problems[0]}`, { metaMessages: problems.slice(1) });
  }
  if (parsed.data.chainId !== chainId) {
    throw new InvalidDeploymentError(
      file,
      `chainId: the file is for chain ${parsed.data.chainId}, not ${chainId}.`,
    );
  }
  return parsed.data;
}
