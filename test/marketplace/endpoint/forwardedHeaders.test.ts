import { describe, expect, it } from "vitest";
import { forwardedHeaders, headerValue } from "../../../marketplace/endpoint/forwardedHeaders.ts";

describe("forwardedHeaders", () => {
  it("drops hop-by-hop headers and those the connection header names, keeping order and repeats", () => {
    const raw = [
      "Host",
      "gw",
      "Connection",
      "keep-alive, X-Private",
      "X-Private",
      "secret",
      "Keep-Alive",
      "timeout=5",
      "Set-Cookie",
      "a=1",
      "Authorization",
      "Bearer k",
      "Set-Cookie",
      "b=2",
      "TE",
      "trailers",
      "Expect",
      "100-continue",
    ];
    expect(forwardedHeaders(raw)).toEqual([
      "Set-Cookie",
      "a=1",
      "Authorization",
      "Bearer k",
      "Set-Cookie",
      "b=2",
    ]);
  });

  it("drops a content-length beside transfer-encoding", () => {
    expect(forwardedHeaders(["Content-Length", "5", "Transfer-Encoding", "chunked", "X-A", "1"])).toEqual([
      "X-A",
      "1",
    ]);
    expect(forwardedHeaders(["Content-Length", "5"])).toEqual(["Content-Length", "5"]);
  });

  it("finds a header's first value by its lower-case name", () => {
    expect(headerValue(["Content-Type", "a", "content-type", "b"], "content-type")).toBe("a");
    expect(headerValue([], "x")).toBeUndefined();
  });
});
