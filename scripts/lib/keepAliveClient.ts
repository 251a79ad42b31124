import { connect, type Socket } from "node:net";

/** One answer: status, body, and when its first byte and its end arrived (ms after sending). */
export type KeepAliveAnswer = { status: number; body: string; firstByteMs: number; totalMs: number };

export type KeepAliveClient = {
  /** POSTs `body` (JSON) to the client's path; one request at a time per client. */
  post(body: string): Promise<KeepAliveAnswer>;
  close(): void;
};

const HEAD_END = Buffer.from("\r\n\r\n");

/**
 * A load generator's HTTP/1.1 client, in the spirit of wrk: one keep-alive connection, the request
 * written in one piece, the answer read by its content-length. It spends a fraction of what Node's
 * http client does per request, so on a small machine the benchmark's own calls take little of the
 * CPU the gateway and the provider are measured on. It reads only answers with a content-length
 * (what the model server and the gateway's errors send); anything else fails the call.
 */
export async function createKeepAliveClient(url: string): Promise<KeepAliveClient> {
  const target = new URL(url);
  const socket: Socket = connect(Number(target.port), target.hostname);
  socket.setNoDelay(true);
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const prefix = `POST ${target.pathname}${target.search} HTTP/1.1\r\nHost: ${target.host}\r\nContent-Type: application/json\r\nContent-Length: `;
  let pending:
    | {
        resolve(answer: KeepAliveAnswer): void;
        reject(error: Error): void;
        started: number;
        firstByteMs: number;
      }
    | undefined;
  let buffer: Buffer = Buffer.alloc(0);
  socket.on("data", (chunk: Buffer) => {
    const call = pending;
    if (call === undefined) return;
    if (buffer.length === 0) call.firstByteMs = performance.now() - call.started;
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    const headEnd = buffer.indexOf(HEAD_END);
    if (headEnd < 0) return;
    const head = buffer.subarray(0, headEnd).toString("latin1");
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1];
    if (length === undefined) {
      pending = undefined;
      call.reject(new Error(`an answer without a content-length: ${head.split("\r\n")[0]}`));
      return;
    }
    const end = headEnd + 4 + Number(length);
    if (buffer.length < end) return;
    const body = buffer.subarray(headEnd + 4, end).toString("utf8");
    buffer = buffer.subarray(end);
    pending = undefined;
    call.resolve({
      status: Number(head.slice(9, 12)),
      body,
      firstByteMs: call.firstByteMs,
      totalMs: performance.now() - call.started,
    });
  });
  const fail = (error: Error) => {
    const call = pending;
    pending = undefined;
    call?.reject(error);
  };
  socket.on("error", fail);
  socket.on("close", () => fail(new Error("the connection closed")));
  return {
    post(body) {
      if (pending !== undefined) return Promise.reject(new Error("one request at a time"));
      return new Promise((resolve, reject) => {
        buffer = Buffer.alloc(0);
        pending = { resolve, reject, started: performance.now(), firstByteMs: 0 };
        socket.write(`${prefix}${Buffer.byteLength(body)}\r\n\r\n${body}`);
      });
    },
    close: () => socket.destroy(),
  };
}
