import {
  type Account,
  type Address,
  type Chain,
  type Hex,
  hashTypedData,
  hexToBigInt,
  type LocalAccount,
  parseSignature,
  signatureToCompactSignature,
  type Transport,
  type WalletClient,
} from "viem";
import { BaseError } from "../errors/base.ts";
import { HALF_CURVE_ORDER, recoverSigner } from "./recoverSigner.ts";

/** EIP-712 domain name and version of vouchers; the escrow's constructor uses the same. */
export const VOUCHER_DOMAIN_NAME = "gridspot";
export const VOUCHER_DOMAIN_VERSION = "1";

/** `Voucher(uint256 channelId,uint256 cumulativeAmount)`, as `ComputeEscrow` hashes it. */
export const voucherTypes = {
  Voucher: [
    { name: "channelId", type: "uint256" },
    { name: "cumulativeAmount", type: "uint256" },
  ],
} as const;

/** A payer's promise: the provider of `channelId` may be paid up to `cumulativeAmount` in total. */
export type Voucher = { channelId: bigint; cumulativeAmount: bigint };

export type VoucherTypedDataParameters = {
  chainId: number;
  /** The ComputeEscrow address (the EIP-712 verifying contract). */
  escrow: Address;
  voucher: Voucher;
};

/** The EIP-712 typed data a payer signs for a voucher. */
export function voucherTypedData({ chainId, escrow, voucher }: VoucherTypedDataParameters) {
  return {
    domain: {
      name: VOUCHER_DOMAIN_NAME,
      version: VOUCHER_DOMAIN_VERSION,
      chainId,
      verifyingContract: escrow,
    },
    types: voucherTypes,
    primaryType: "Voucher",
    message: { channelId: voucher.channelId, cumulativeAmount: voucher.cumulativeAmount },
  } as const;
}

/** The digest the payer signs; equals `ComputeEscrow.voucherDigest(channelId, cumulativeAmount)`. */
export function hashVoucher(parameters: VoucherTypedDataParameters): Hex {
  return hashTypedData(voucherTypedData(parameters));
}

/** Signs a voucher with a local account or a wallet client that holds the payer's account. */
export async function signVoucher(
  signer: LocalAccount | WalletClient<Transport, Chain | undefined, Account>,
  parameters: VoucherTypedDataParameters,
): Promise<Hex> {
  const typedData = voucherTypedData(parameters);
  if (isWalletClient(signer)) return signer.signTypedData({ ...typedData, account: signer.account });
  return signer.signTypedData(typedData);
}

function isWalletClient(
  signer: LocalAccount | WalletClient<Transport, Chain | undefined, Account>,
): signer is WalletClient<Transport, Chain | undefined, Account> {
  return "transport" in signer;
}

/** A voucher signature the escrow would refuse whatever the signer: not 65 bytes, or high s. */
export class InvalidVoucherSignatureError extends BaseError {
  override name = "InvalidVoucherSignatureError";
}

/**
 * The address that signed a voucher, with the escrow's own rules: exactly 65 bytes and low s.
 * Compare the result with the channel's payer before accepting the voucher.
 */
export async function recoverVoucherSigner(
  parameters: VoucherTypedDataParameters & { signature: Hex },
): Promise<Address> {
  const { signature } = parameters;
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new InvalidVoucherSignatureError("A voucher signature must be 65 bytes (130 hex characters).");
  }
  if (hexToBigInt(`0x${signature.slice(66, 130)}`) > HALF_CURVE_ORDER) {
    throw new InvalidVoucherSignatureError(
      "The voucher signature has a high s value, which the escrow rejects.",
    );
  }
  return recoverSigner(hashTypedData(voucherTypedData(parameters)), signature);
}

/**
 * The (r, vs) form of a 65-byte voucher signature (EIP-2098), which is what the escrow's `redeem`
 * and `redeemBatch` take: 64 bytes of calldata instead of 65 padded to 96 plus a length word.
 */
export function compactVoucherSignature(signature: Hex): { r: Hex; vs: Hex } {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new InvalidVoucherSignatureError("A voucher signature must be 65 bytes (130 hex characters).");
  }
  if (hexToBigInt(`0x${signature.slice(66, 130)}`) > HALF_CURVE_ORDER) {
    throw new InvalidVoucherSignatureError(
      "The voucher signature has a high s value, which the escrow rejects.",
    );
  }
  const compact = signatureToCompactSignature(parseSignature(signature));
  return { r: compact.r, vs: compact.yParityAndS };
}
