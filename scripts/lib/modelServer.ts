// A tiny stand-in for an inference server, for tests, demos and the inference benchmark: no model,
// no registry, only Node's own http module, so it runs as a process replica and, copied into a
// `FROM scratch` image with the Node binary (ensureModelServerImage.ts), as a container replica.
//
//   node scripts/lib/modelServer.ts [--port 8000] [--host 0.0.0.0]      (or PORT=8000)
//
// Routes:
//   GET  /health                   200 {"ok":true}
//   POST /v1/chat/completions      {"sleep_ms": N, "tokens": T, "prompt_tokens": P, "stream": bool}
//        answers after N ms with an OpenAI-style chat.completion whose `usage` says
//        {prompt_tokens: P, completion_tokens: T, total_tokens: P + T}; with "stream": true, a
//        server-sent event stream of T chunks spread over N ms, then a chunk with `usage`, then
//        `data: [DONE]`. The answer also carries `x-usage-tokens: P + T`.
//   ANY  /echo/...                 the request as JSON {method, path, headers, body}; status from
//        `?status=NNN`, and an `x-echo: yes` header
//   GET  /bytes?n=N[&chunked=1]    N bytes of "x", with a content-length (or chunked, in 64 KiB pieces)
// Every answer names the replica in `x-replica: <pid>:<port>`.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";

function option(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

const port = Number(option("port") ?? process.env.PORT ?? 8000);
const host = option("host") ?? process.env.HOST ?? "0.0.0.0";
const replica = `${process.pid}:${port}`;

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function json(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "x-replica": replica,
    ...headers,
  });
  res.end(body);
}

function completions(res: ServerResponse, body: Buffer): void {
  let ask: { sleep_ms?: unknown; tokens?: unknown; prompt_tokens?: unknown; stream?: unknown };
  try {
    ask = body.length === 0 ? {} : JSON.parse(body.toString("utf8"));
  } catch {
    json(res, 400, { error: { message: "the body is not JSON", type: "invalid_request_error" } });
    return;
  }
  const count = (value: unknown, fallback: number) =>
    typeof value === "number" && Number.isSafeInteger(value) && value >= 0 ? value : fallback;
  const sleepMs = count(ask.sleep_ms, 0);
  const tokens = count(ask.tokens, 1);
  const promptTokens = count(ask.prompt_tokens, 0);
  const usage = {
    prompt_tokens: promptTokens,
    completion_tokens: tokens,
    total_tokens: promptTokens + tokens,
  };
  const id = `chatcmpl-${Date.now().toString(36)}`;
  const created = Math.floor(Date.now() / 1000);
  if (ask.stream !== true) {
    // No timer for 0 ms: a timer waits at least 1 ms, which would be the server's own overhead.
    const later = (answer: () => void) => (sleepMs === 0 ? answer() : setTimeout(answer, sleepMs));
    later(() =>
      json(
        res,
        200,
        {
          id,
          object: "chat.completion",
          created,
          model: "tiny",
          choices: [
            {
              index: 0,
              message: { role: "assistant", content: "ok ".repeat(Math.min(tokens, 64)).trim() },
              finish_reason: "stop",
            },
          ],
          usage,
        },
        { "x-usage-tokens": String(usage.total_tokens) },
      ),
    );
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    "x-replica": replica,
    "x-usage-tokens": String(usage.total_tokens),
  });
  const event = (value: unknown) => res.write(`data: ${JSON.stringify(value)}\n\n`);
  const chunk = (delta: Record<string, string>, finish: string | null) => ({
    id,
    object: "chat.completion.chunk",
    created,
    model: "tiny",
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const step = tokens === 0 ? sleepMs : sleepMs / tokens;
  let sent = 0;
  const next = () => {
    if (res.destroyed) return;
    if (sent < tokens) {
      sent += 1;
      event(chunk({ content: "ok " }, null));
      setTimeout(next, step);
      return;
    }
    event({ ...chunk({}, "stop"), usage });
    res.end("data: [DONE]\n\n");
  };
  setTimeout(next, tokens === 0 ? sleepMs : 0);
}

function bytes(url: URL, res: ServerResponse): void {
  const n = Number(url.searchParams.get("n") ?? "0");
  if (url.searchParams.get("chunked") !== "1") {
    res.writeHead(200, {
      "content-type": "application/octet-stream",
      "content-length": n,
      "x-replica": replica,
    });
    res.end(Buffer.alloc(n, "x"));
    return;
  }
  res.writeHead(200, { "content-type": "application/octet-stream", "x-replica": replica });
  const piece = Buffer.alloc(64 * 1024, "x");
  let left = n;
  const more = () => {
    while (left > 0) {
      const part = piece.subarray(0, Math.min(left, piece.length));
      left -= part.length;
      if (!res.write(part)) return void res.once("drain", more);
    }
    res.end();
  };
  more();
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const url = new URL(req.url ?? "/", "http://replica");
  readBody(req).then(
    (body) => {
      if (url.pathname === "/health") return json(res, 200, { ok: true });
      if (url.pathname === "/v1/chat/completions" && req.method === "POST") return completions(res, body);
      if (url.pathname === "/echo" || url.pathname.startsWith("/echo/")) {
        return json(
          res,
          Number(url.searchParams.get("status") ?? "200"),
          { method: req.method, path: req.url, headers: req.headers, body: body.toString("utf8") },
          { "x-echo": "yes" },
        );
      }
      if (url.pathname === "/bytes") return bytes(url, res);
      json(res, 404, { error: { message: `no route ${req.method} ${url.pathname}`, type: "not_found" } });
    },
    () => res.destroy(),
  );
});
server.listen(port, host);
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
