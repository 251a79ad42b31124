import Fastify from "fastify";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { uint } from "../../../marketplace/messages/primitives.ts";
import { RequestSchemaError } from "../../../node/api/errors.ts";
import { useZodSchemas } from "../../../node/api/zodSchemas.ts";

const BIG = 2n ** 70n + 3n;

/** An app with one route whose body, params and answer are zod schemas. */
function appWith(answer: (body: { amount: bigint }) => unknown) {
  const app = Fastify({ logger: false });
  const errors: unknown[] = [];
  app.setErrorHandler((error: Error & { statusCode?: number }, _request, reply) => {
    errors.push(error);
    return reply.status(error.statusCode ?? 500).send({ error: "x", message: error.message });
  });
  useZodSchemas(app).post(
    "/things/:name",
    {
      schema: {
        params: z.object({ name: z.string().regex(/^[a-z]+$/, "expected lowercase letters") }),
        body: z.object({ amount: uint }).strict(),
        response: { 200: z.object({ name: z.string(), amount: uint, double: uint }) },
      },
    },
    async (request) => {
      // The handler gets what the schema outputs: a bigint, not the decimal string sent.
      expect(typeof request.body.amount).toBe("bigint");
      return answer(request.body) as never;
    },
  );
  return { app, errors };
}

describe("useZodSchemas", () => {
  it("parses the body with its schema and writes the answer with bigints as decimal strings", async () => {
    const { app } = appWith((body) => ({ name: "a", amount: body.amount, double: body.amount * 2n }));
    const response = await app.inject({
      method: "POST",
      url: "/things/abc",
      payload: { amount: BIG.toString() },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^application\/json/);
    expect(response.body).toBe(`{"name":"a","amount":"${BIG}","double":"${BIG * 2n}"}`);
  });

  it("drops a field the answer's schema does not name", async () => {
    const { app } = appWith((body) => ({ name: "a", amount: body.amount, double: 0n, secret: "x" }));
    const response = await app.inject({ method: "POST", url: "/things/abc", payload: { amount: "1" } });
    expect(response.json()).toEqual({ name: "a", amount: "1", double: "0" });
  });

  it("refuses a body or params its schema refuses with a 400 naming the problem", async () => {
    const { app, errors } = appWith(() => ({}));
    const extra = await app.inject({ method: "POST", url: "/things/abc", payload: { amount: "1", nope: 1 } });
    expect(extra.statusCode).toBe(400);
    expect(extra.json().message).toBe("body: (root): Unrecognized key(s) in object: 'nope'");
    const negative = await app.inject({ method: "POST", url: "/things/abc", payload: { amount: "-1" } });
    expect(negative.statusCode).toBe(400);
    expect(negative.json().message).toContain("body: amount:");
    const params = await app.inject({ method: "POST", url: "/things/ABC", payload: { amount: "1" } });
    expect(params.statusCode).toBe(400);
    expect(params.json().message).toBe("params: name: expected lowercase letters");
    expect(errors.every((e) => e instanceof RequestSchemaError)).toBe(true);
  });

  it("answers 500, never a half-formed answer, when the answer does not match its schema", async () => {
    const { app, errors } = appWith(() => ({ name: "a", amount: -5n }));
    const response = await app.inject({ method: "POST", url: "/things/abc", payload: { amount: "1" } });
    expect(response.statusCode).toBe(500);
    expect(response.body).not.toContain('"name":"a"');
    expect(String((errors[0] as Error).message)).toMatch(
      /^The 200 answer of POST \/things\/:name does not match its schema/,
    );
  });

  it("refuses a route whose schema is not a zod schema", async () => {
    const app = Fastify({ logger: false });
    useZodSchemas(app).get(
      "/json-schema",
      { schema: { params: { type: "object", properties: { id: { type: "string" } } } } },
      async () => "never",
    );
    await expect(app.ready()).rejects.toThrow(/the route schema is not a zod schema/);
  });
});
