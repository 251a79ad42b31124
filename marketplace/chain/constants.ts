import { parseUnits } from "viem";

/** GRID has 18 decimals, like ether: 1 GRID = 10^18 base units. */
export const GRID_DECIMALS = 18;

const grid = (whole: string) => parseUnits(whole, GRID_DECIMALS);

/** Minted once to the deployer: 1,000,000,000 GRID. */
export const DEFAULT_INITIAL_SUPPLY = grid("1000000000");

/**
 * Faucet settings used when a deployment enables the faucet without saying more: 1,000 GRID a
 * drip, one drip a day per address, at most 10,000 GRID per address over its life.
 */
export const DEFAULT_FAUCET = { amount: grid("1000"), cooldownS: 86_400, cap: grid("10000") } as const;

/** A provider must bond at least 100 GRID to be listed. */
export const DEFAULT_MIN_STAKE = grid("100");

/** Stake leaves the registry 7 days after the request. */
export const DEFAULT_UNBONDING_PERIOD_S = 7 * 24 * 3600;

/** A provider keeps 1 hour to redeem after the payer asks to close (or the channel expires). */
export const DEFAULT_CHALLENGE_PERIOD_S = 3600;

/** Protocol fee: 100 basis points, i.e. 1 %. */
export const DEFAULT_FEE_BPS = 100;

/** The escrow's own ceiling on the fee (`ComputeEscrow.MAX_FEE_BPS`): 10 %. */
export const MAX_FEE_BPS = 1000;

/** How long a deployment waits for each transaction's receipt (public testnets can be slow). */
export const DEFAULT_RECEIPT_TIMEOUT_MS = 300_000;
