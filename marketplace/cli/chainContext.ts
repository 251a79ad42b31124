import type { ExplainChainErrorContext } from "../chain/explainChainError.ts";

/**
 * What the running command knows of its chain, for the error messages `main` writes (which wallet
 * had no gas, on which chain). One CLI invocation is one process: one context.
 */
export const chainContext: ExplainChainErrorContext = {};
