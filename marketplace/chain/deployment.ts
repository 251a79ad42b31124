import { type Address, getAddress, isAddress } from "viem";
import { z } from "zod";

/** Where the gridspot contracts live on one chain, and the settings they were deployed with. */
export type Deployment = {
  chainId: number;
  deployer: Address;
  /** The block of the first deployment transaction: event scans start here. */
  deployBlock: bigint;
  /** The timestamp of `deployBlock`, ISO 8601. */
  deployedAt: string;
  contracts: {
    computeToken: Address;
    providerRegistry: Address;
    computeEscrow: Address;
  };
  parameters: {
    token: {
      /** Minted to the deployer, in base units. */
      initialSupply: bigint;
      /** All zero when the faucet is disabled. */
      faucet: { amount: bigint; cooldownS: number; cap: bigint };
    };
    registry: { minStake: bigint; unbondingPeriodS: number };
    escrow: { challengePeriodS: number; feeBps: number; feeRecipient: Address };
  };
};

const address = z
  .string()
  .refine((value) => isAddress(value, { strict: false }), "expected a 0x-prefixed 20-byte address")
  .transform((value) => getAddress(value));
const baseUnits = z
  .string()
  .regex(/^(0|[1-9]\d*)$/, "expected a non-negative integer as a decimal string")
  .transform((value) => BigInt(value));
const seconds = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/** The JSON form of a `Deployment`: bigints are decimal strings. */
export const deploymentJsonSchema = z.object({
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  deployer: address,
  deployBlock: baseUnits,
  deployedAt: z.string().datetime({ offset: true }),
  contracts: z.object({
    computeToken: address,
    providerRegistry: address,
    computeEscrow: address,
  }),
  parameters: z.object({
    token: z.object({
      initialSupply: baseUnits,
      faucet: z.object({ amount: baseUnits, cooldownS: seconds, cap: baseUnits }),
    }),
    registry: z.object({ minStake: baseUnits, unbondingPeriodS: seconds }),
    escrow: z.object({
      challengePeriodS: seconds,
      feeBps: z.number().int().min(0).max(10_000),
      feeRecipient: address,
    }),
  }),
}) satisfies z.ZodType<Deployment, z.ZodTypeDef, unknown>;

/** A deployment as JSON text: pretty, bigints as decimal strings, a trailing newline. */
export function stringifyDeployment(deployment: Deployment): string {
  return `${JSON.stringify(deployment, (_key, value) => (typeof value === "bigint" ? value.toString() : value), 2)}\n`;
}
