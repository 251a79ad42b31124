import { describe, expect, it } from "vitest";
import { createTokenCounter } from "../../../marketplace/endpoint/createTokenCounter.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

describe("createTokenCounter", () => {
  it("counts a JSON body's usage.total_tokens, across chunks", () => {
    const counter = createTokenCounter({ from: "usage" }, ["Content-Type", "application/json"]);
    const body = JSON.stringify({
      choices: [],
      usage: { prompt_tokens: 3, completion_tokens: 9, total_tokens: 12 },
    });
    counter.push(bytes(body.slice(0, 20)));
    counter.push(bytes(body.slice(20)));
    expect(counter.tokens()).toBe(12n);
  });

  it("adds prompt and completion tokens when the total is missing, and counts 0 without usage", () => {
    const partial = createTokenCounter({ from: "usage" }, []);
    partial.push(bytes('{"usage":{"prompt_tokens":2,"completion_tokens":5}}'));
    expect(partial.tokens()).toBe(7n);
    const none = createTokenCounter({ from: "usage" }, []);
    none.push(bytes('{"ok":true}'));
    expect(none.tokens()).toBe(0n);
    const garbage = createTokenCounter({ from: "usage" }, []);
    garbage.push(bytes('not json "usage"'));
    expect(garbage.tokens()).toBe(0n);
    const negative = createTokenCounter({ from: "usage" }, []);
    negative.push(bytes('{"usage":{"total_tokens":-4}}'));
    expect(negative.tokens()).toBe(0n);
  });

  it("takes the last usage of an event stream, wherever the chunks split its lines", () => {
    const counter = createTokenCounter({ from: "usage" }, [
      "content-type",
      "text/event-stream; charset=utf-8",
    ]);
    const stream = [
      'data: {"choices":[{"delta":{"content":"a"}}]}\n\n',
      'data: {"choices":[],"usage":{"total_tokens":4}}\n\n',
      'data: {"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\r\n\r\n',
      "data: [DONE]\n\n",
    ].join("");
    for (let i = 0; i < stream.length; i += 7) counter.push(bytes(stream.slice(i, i + 7)));
    expect(counter.tokens()).toBe(3n);
  });

  it("reads a declared header instead when the endpoint says so", () => {
    const counter = createTokenCounter({ from: "header", header: "X-Usage-Tokens" }, [
      "x-usage-tokens",
      " 42 ",
    ]);
    counter.push(bytes('{"usage":{"total_tokens":1}}'));
    expect(counter.tokens()).toBe(42n);
    expect(
      createTokenCounter({ from: "header", header: "x-usage-tokens" }, ["x-usage-tokens", "4e3"]).tokens(),
    ).toBe(0n);
  });
});
