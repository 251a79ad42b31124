import { z } from "zod";

/** Replicas of an endpoint, at most; the agreement's resources are per replica × this. */
export const MAX_ENDPOINT_REPLICAS = 64;
/** The widest meter tolerance a payer accepts in a bid (see `endpointTerms.meterToleranceMs`). */
export const MAX_METER_TOLERANCE_MS = 60_000;

const replicas = z.number().int().min(0).max(MAX_ENDPOINT_REPLICAS);

/**
 * An order for an endpoint rather than a batch job (DESIGN §12): its requirements are for
 * `maxReplicas` replicas in all (what a provider reserves), each replica getting an equal share.
 * Providers that serve endpoints bid their per-1k-requests and per-1k-tokens prices besides time.
 */
export const endpointOrder = z
  .object({
    minReplicas: replicas,
    maxReplicas: replicas.min(1),
  })
  .strict()
  .refine((e) => e.minReplicas <= e.maxReplicas, "expected minReplicas ≤ maxReplicas");
export type EndpointOrder = z.infer<typeof endpointOrder>;

/** What a bid for an endpoint order adds: the tolerance the provider asks for between both meters. */
export const endpointBid = z
  .object({
    /**
     * How long after a note the payer's gateway may take to count what the provider's proxy had
     * counted when it cut the note (answers in transit): the payer waits up to this long for its own
     * counts to reach the note's before it refuses the note.
     */
    meterToleranceMs: z.number().int().min(0).max(MAX_METER_TOLERANCE_MS),
  })
  .strict();
export type EndpointBid = z.infer<typeof endpointBid>;

/**
 * An endpoint agreement's terms: the order's replicas and the bid's tolerance. How it bills
 * (DESIGN §12): `gpu_ms` is the busy time of the replicas (each busy period rounded up on its own
 * to the agreement's granularity, × the GPUs of a replica), but never less than `minReplicas`
 * replicas' allocated time (warm replicas the payer asked to keep); `requests` and `tokens` as the
 * provider's proxy counts them. Cold starts and idle replicas beyond `minReplicas` bill nothing.
 */
export const endpointTerms = z
  .object({
    minReplicas: replicas,
    maxReplicas: replicas.min(1),
    meterToleranceMs: z.number().int().min(0).max(MAX_METER_TOLERANCE_MS),
  })
  .strict();
export type EndpointTerms = z.infer<typeof endpointTerms>;

/** A header name an answer may state its tokens in (instead of the OpenAI-style `usage` object). */
const headerName = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name");

/**
 * How the provider serves the job's image (or command) as an endpoint: the port it serves HTTP on,
 * how it is health-checked and scaled, and where its answers state their tokens. The replicas
 * (min, max) are the agreement's.
 */
export const endpointSpec = z
  .object({
    port: z.number().int().min(1).max(65_535),
    /** A replica idle this long stops (down to the agreement's minReplicas). */
    idleTimeoutS: z.number().int().min(1).max(86_400),
    /** The longest a request waits for a replica to become ready before a 503. */
    coldStartTimeoutS: z.number().int().min(1).max(3_600),
    /** Polled until it answers below 500 before a replica serves. */
    healthPath: z
      .string()
      .min(1)
      .max(256)
      .regex(/^\/[^\s?#]*$/, "expected an absolute path such as /health"),
    /** Tokens from this response header; absent: from the response's `usage` object. */
    tokenHeader: headerName.optional(),
  })
  .strict();
export type EndpointSpec = z.infer<typeof endpointSpec>;
