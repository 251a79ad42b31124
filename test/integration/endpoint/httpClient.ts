import { request } from "node:http";

/** An answer as the caller saw it: status, headers, body, and when each body chunk arrived. */
export type Answer = {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** ms after sending at which each chunk arrived, and the end. */
  chunkTimes: number[];
  endedMs: number;
  /** Set when the connection was cut mid-answer. */
  error?: string;
};

/** One plain HTTP/1.1 request (no client of the gateway's own), read chunk by chunk. */
export function send(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    chunks?: Buffer[];
  } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      url,
      { method: options.method ?? "GET", headers: options.headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        const chunkTimes: number[] = [];
        const finish = (error?: string) =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString("utf8"),
            chunkTimes,
            endedMs: performance.now() - started,
            ...(error === undefined ? {} : { error }),
          });
        res.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          chunkTimes.push(performance.now() - started);
        });
        res.on("end", () => finish());
        res.on("error", (error) => finish(error.message));
        res.on("aborted", () => finish("aborted"));
      },
    );
    req.on("error", reject);
    if (options.chunks !== undefined) {
      for (const chunk of options.chunks) req.write(chunk);
      req.end();
    } else req.end(options.body);
  });
}

/** A chat completion from the tiny model server: `sleep_ms`, `tokens`, maybe streamed. */
export function complete(
  base: string,
  ask: { sleep_ms: number; tokens: number; stream?: boolean },
): Promise<Answer> {
  return send(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(ask),
  });
}
