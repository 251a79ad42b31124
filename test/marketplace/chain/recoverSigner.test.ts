import fc from "fast-check";
import { type Hex, hashTypedData, keccak256, recoverAddress, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { describe, expect, it } from "vitest";
import { recoverSigner } from "../../../marketplace/chain/recoverSigner.ts";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const KEY = `0x${"42".repeat(32)}` as Hex;

/** The same signature with s → n − s and v flipped: it recovers the same key (a malleated twin). */
function twin(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

describe("recoverSigner", () => {
  it("recovers the same address as viem for any key and digest", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        async (seed, data) => {
          const account = privateKeyToAccount(keccak256(seed));
          const digest = keccak256(data);
          const signature = await account.sign({ hash: digest });
          expect(recoverSigner(digest, signature)).toBe(account.address);
          expect(recoverSigner(digest, signature)).toBe(await recoverAddress({ hash: digest, signature }));
        },
      ),
      { numRuns: 50 },
    );
  });

  it("recovers the signer of EIP-712 data, and someone else for another digest", async () => {
    const account = privateKeyToAccount(KEY);
    const typed = {
      domain: { name: "gridspot-market", version: "1", chainId: 31_337 },
      types: { M: [{ name: "n", type: "uint256" }] },
      primaryType: "M",
      message: { n: 7n },
    } as const;
    const signature = await account.signTypedData(typed);
    expect(recoverSigner(hashTypedData(typed), signature)).toBe(account.address);
    const other = hashTypedData({ ...typed, message: { n: 8n } });
    expect(recoverSigner(other, signature)).not.toBe(account.address);
  });

  it("refuses a high s, a v other than 27 or 28, a wrong length and a point off the curve", async () => {
    const account = privateKeyToAccount(KEY);
    const digest = keccak256(toHex("order"));
    const signature = await account.sign({ hash: digest });
    // The twin would recover the same key: refused, as the escrow refuses it.
    expect(() => recoverSigner(digest, twin(signature))).toThrow(/s is high/);
    expect(() => recoverSigner(digest, `${signature.slice(0, 130)}01` as Hex)).toThrow(/v must be 27 or 28/);
    expect(() => recoverSigner(digest, signature.slice(0, 128) as Hex)).toThrow(/65 bytes/);
    // r = 0 is no point at all.
    const zeroR = `0x${"00".repeat(32)}${signature.slice(66)}` as Hex;
    expect(() => recoverSigner(digest, zeroR)).toThrow(/invalid signature/);
  });
});
