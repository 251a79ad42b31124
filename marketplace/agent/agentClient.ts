import { request } from "node:http";
import type { z } from "zod";
import { BaseError } from "../errors/base.ts";
import { UsageError } from "../errors/usage.ts";
import { agentFiles, runningAgent } from "./agentFiles.ts";
import { agentErrorAnswer } from "./agentRequests.ts";

/** No agent answers for this data dir. */
export class AgentNotRunningError extends BaseError {
  override name = "AgentNotRunningError";
}

/** An error the agent answered with, under its own name (the CLI's exit code follows the name). */
export class AgentAnswerError extends BaseError {
  constructor(name: string, message: string, details?: string) {
    super(message, details === undefined ? {} : { details });
    this.name = name;
  }
}

const notRunning = (dataDir: string) =>
  new AgentNotRunningError(`No payer agent is running for ${dataDir}`, {
    metaMessages: ["Start one with `gridspot agent start` (the same --data-dir), then try again."],
  });

/**
 * One request to the agent's control API on its Unix socket; the answer checked with `schema`.
 * @throws AgentNotRunningError when no agent runs (no live pid file, or nothing on the socket).
 */
export async function agentRequest<T extends z.ZodTypeAny>(
  dataDir: string,
  p: { method: "GET" | "POST" | "DELETE"; path: string; body?: unknown; schema: T; timeoutMs: number },
): Promise<z.infer<T>> {
  if (runningAgent(dataDir) === undefined) throw notRunning(dataDir);
  const payload = p.body === undefined ? undefined : JSON.stringify(p.body);
  const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(
      {
        socketPath: agentFiles(dataDir).socket,
        method: p.method,
        path: p.path,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        signal: AbortSignal.timeout(p.timeoutMs),
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => {
          body += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: body }));
        res.on("error", reject);
      },
    );
    req.on("error", (error: NodeJS.ErrnoException) => {
      if (error.code === "ECONNREFUSED" || error.code === "ENOENT") reject(notRunning(dataDir));
      else if (error.name === "AbortError" || error.name === "TimeoutError")
        reject(
          new BaseError(`The payer agent did not answer within ${p.timeoutMs / 1000} s`, { cause: error }),
        );
      else reject(new BaseError(`Cannot reach the payer agent: ${error.message}`, { cause: error }));
    });
    req.end(payload);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new BaseError(`The payer agent answered ${status} with something that is not JSON`);
  }
  if (status >= 400) {
    const answer = agentErrorAnswer.safeParse(json);
    if (!answer.success) throw new BaseError(`The payer agent answered ${status}`);
    const { error, message, details } = answer.data;
    if (error === "UsageError" || error === "bad-request")
      throw new UsageError(message, details === undefined ? {} : { details });
    throw new AgentAnswerError(error, message, details);
  }
  const parsed = p.schema.safeParse(json);
  if (!parsed.success)
    throw new BaseError("The payer agent's answer is not what this CLI expects (another version?)");
  return parsed.data;
}
