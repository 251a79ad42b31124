import type { z } from "zod";
import { BaseError } from "../../marketplace/errors/base.ts";
import { summarizeZodError } from "../../marketplace/messages/envelope.ts";

/**
 * A request part (body, params, query, headers) its route's schema refuses: a 400 whose message
 * names the problem. `validation` marks it as a validation error for the app's error handler.
 */
export class RequestSchemaError extends BaseError {
  override name = "RequestSchemaError";
  readonly statusCode = 400;
  readonly issues: readonly z.ZodIssue[];
  readonly validation: readonly z.ZodIssue[];

  constructor(part: string, error: z.ZodError) {
    super(`${part}: ${summarizeZodError(error)}`, { facts: { part } });
    this.issues = error.issues;
    this.validation = error.issues;
  }
}

/**
 * An answer its route's response schema refuses: a bug of the node, so a 500 whose details stay in
 * the log, never an answer sent half-formed.
 */
export class ResponseSchemaError extends BaseError {
  override name = "ResponseSchemaError";

  constructor(route: string, status: string, error: z.ZodError) {
    super(`The ${status} answer of ${route} does not match its schema`, {
      details: summarizeZodError(error),
      facts: { route, status, issues: error.issues },
    });
  }
}
