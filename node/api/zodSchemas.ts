import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyTypeProvider, RawServerDefault } from "fastify";
import { z } from "zod";
import { toJson } from "../../marketplace/messages/json.ts";
import { RequestSchemaError, ResponseSchemaError } from "./errors.ts";

/** Route types from zod schemas: a body is what its schema outputs, an answer what it takes. */
export interface ZodTypeProvider extends FastifyTypeProvider {
  validator: this["schema"] extends z.ZodTypeAny ? z.output<this["schema"]> : unknown;
  serializer: this["schema"] extends z.ZodTypeAny ? z.input<this["schema"]> : unknown;
}

/** A Fastify app whose route schemas are zod schemas. */
export type ZodFastifyInstance = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * Makes the message schemas (marketplace/messages) the app's route schemas: a route declares
 * `schema: { params, body, response: { 200: <zod> } }`. A request part is parsed by its schema (a
 * 400 naming the problem in words when it refuses it, else the handler gets the parsed value,
 * bigints and all); an answer is checked by its schema and written with `toJson` (bigints as decimal
 * strings): one that does not match is a 500, never sent half-formed. A schema that is not zod is
 * refused when the route is compiled.
 */
export function useZodSchemas(app: FastifyInstance): ZodFastifyInstance {
  app.setValidatorCompiler(({ schema, method, url, httpPart }) => {
    const parser = zodSchema(schema, `${method} ${url} ${httpPart ?? "request"}`);
    return (data: unknown) => {
      const parsed = parser.safeParse(data);
      return parsed.success
        ? { value: parsed.data }
        : { error: new RequestSchemaError(httpPart ?? "request", parsed.error) };
    };
  });
  app.setSerializerCompiler(({ schema, method, url, httpStatus }) => {
    const route = `${method} ${url}`;
    const status = String(httpStatus);
    const parser = zodSchema(schema, `${route} ${status}`);
    return (data: unknown) => {
      const parsed = parser.safeParse(data);
      if (!parsed.success) throw new ResponseSchemaError(route, status, parsed.error);
      return toJson(parsed.data);
    };
  });
  return app.withTypeProvider<ZodTypeProvider>();
}

function zodSchema(schema: unknown, where: string): z.ZodTypeAny {
  if (!(schema instanceof z.ZodType)) throw new TypeError(`${where}: the route schema is not a zod schema`);
  return schema;
}
