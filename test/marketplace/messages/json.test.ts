import { describe, expect, it } from "vitest";
import { toJson, toJsonValue } from "../../../marketplace/messages/json.ts";
import { debitNote as debitNoteSchema } from "../../../marketplace/messages/receipt.ts";
import { debitNote } from "./fixtures.ts";

describe("toJson / toJsonValue", () => {
  it("writes bigints as exact decimal strings, nested and in arrays", () => {
    const big = 2n ** 255n + 1n;
    expect(toJson({ a: big, b: [1n, { c: 0n }], d: 1.5, e: "x", f: null })).toBe(
      `{"a":"${big.toString()}","b":["1",{"c":"0"}],"d":1.5,"e":"x","f":null}`,
    );
    expect(toJsonValue({ a: big, b: [3n] })).toEqual({ a: big.toString(), b: ["3"] });
  });

  it("indents when asked", () => {
    expect(toJson({ a: 1n }, 2)).toBe('{\n  "a": "1"\n}');
  });

  it("round-trips a debit note through JSON and its schema with every bigint intact", () => {
    const back = debitNoteSchema.parse(JSON.parse(toJson(debitNote)));
    expect(back).toEqual(debitNote);
    expect(typeof back.channelCumulative).toBe("bigint");
  });
});
