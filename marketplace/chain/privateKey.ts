import type { Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { InvalidPrivateKeyError } from "./errors.ts";

/**
 * Checks a private key's shape and returns it as 0x-prefixed lowercase hex. Accepts surrounding
 * whitespace (keys pasted from files) and a missing 0x. Error messages never quote the key.
 */
export function parsePrivateKey(privateKey: string): Hex {
  const trimmed = privateKey.trim();
  const hex = trimmed.startsWith("0x") || trimmed.startsWith("0X") ? trimmed.slice(2) : trimmed;
  if (hex.length !== 64) throw new InvalidPrivateKeyError(`expected 64 hex characters, got ${hex.length}`);
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new InvalidPrivateKeyError("it contains characters that are not hex");
  const key = `0x${hex.toLowerCase()}` as Hex;
  try {
    privateKeyToAccount(key);
  } catch {
    // The library's message may quote the key: say only what is wrong.
    throw new InvalidPrivateKeyError("it is not a valid secp256k1 key (zero or above the curve order)");
  }
  return key;
}
