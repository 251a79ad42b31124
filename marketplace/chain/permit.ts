import type { Address } from "viem";

/** ERC-2612 `Permit(owner, spender, value, nonce, deadline)`, as ComputeToken (OpenZeppelin) hashes it. */
export const permitTypes = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
} as const;

export type PermitTypedDataParameters = {
  /** The token's EIP-712 name (ComputeToken: "gridspot compute"); its version is "1". */
  tokenName: string;
  token: Address;
  chainId: number;
  owner: Address;
  spender: Address;
  value: bigint;
  nonce: bigint;
  deadline: bigint;
};

/** The typed data an owner signs to let `spender` take `value` of the token (depositWithPermit). */
export function permitTypedData(p: PermitTypedDataParameters) {
  return {
    domain: { name: p.tokenName, version: "1", chainId: p.chainId, verifyingContract: p.token },
    types: permitTypes,
    primaryType: "Permit",
    message: { owner: p.owner, spender: p.spender, value: p.value, nonce: p.nonce, deadline: p.deadline },
  } as const;
}
