import { recover } from "tiny-secp256k1";
import { type Address, getAddress, type Hex, hexToBytes, keccak256 } from "viem";

// secp256k1's group order halved: the escrow (OpenZeppelin ECDSA) rejects s above it, and so does
// every check here. Honest signers (viem, hardware wallets under EIP-2) never produce one.
export const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * The address whose key made `signature` (65 bytes: r, s, v with v 27 or 28) over the 32-byte
 * `digest`, e.g. an EIP-712 hash. Throws on any other length, v, a high s, or a signature that
 * recovers no key.
 *
 * Recovery runs in libsecp256k1 compiled to WebAssembly (tiny-secp256k1), about five times faster
 * than the pure-JavaScript curve viem uses: every node checks the signature of every market message
 * it relays, so this is on the gossip path.
 */
export function recoverSigner(digest: Hex, signature: Hex): Address {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) throw new Error("a signature must be 65 bytes");
  const bytes = hexToBytes(signature);
  const v = bytes[64] as number;
  if (v !== 27 && v !== 28) throw new Error(`signature v must be 27 or 28, got ${v}`);
  if (BigInt(`0x${signature.slice(66, 130)}`) > HALF_CURVE_ORDER) throw new Error("signature s is high");
  let key: Uint8Array | null;
  try {
    key = recover(hexToBytes(digest), bytes.subarray(0, 64), v === 27 ? 0 : 1, false);
  } catch (error) {
    throw new Error(`invalid signature: ${(error as Error).message}`);
  }
  if (key === null) throw new Error("invalid signature: no key recovers from it");
  // An uncompressed key is 0x04 ‖ x ‖ y; the address is the last 20 bytes of keccak256(x ‖ y).
  return getAddress(`0x${keccak256(key.subarray(1)).slice(-40)}`);
}
