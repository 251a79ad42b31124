import { isHex, type LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { KeystoreError, readKeystoreFile } from "./keystore.ts";

export type LoadAccountParameters = {
  /** A 0x-prefixed 32-byte private key: development only (GRIDSPOT_PRIVATE_KEY). */
  privateKey?: string | undefined;
  /** An encrypted keystore file, opened with `password` (GRIDSPOT_PASSWORD). */
  keystorePath?: string | undefined;
  password?: string | undefined;
};

/** The Ethereum account that signs: a raw key if one is given, else the encrypted keystore. */
export async function loadAccount(parameters: LoadAccountParameters): Promise<LocalAccount> {
  if (parameters.privateKey !== undefined && parameters.privateKey !== "") {
    const key = parameters.privateKey.trim();
    if (!isHex(key) || key.length !== 66) {
      // Never echo the value: it may be a real key with a typo.
      throw new KeystoreError("The private key must be 0x followed by 64 hex digits");
    }
    try {
      return privateKeyToAccount(key);
    } catch {
      // The curve library's message prints the key (as a number): leave it and its cause out.
      throw new KeystoreError(
        "The private key is not a valid secp256k1 key (0 or not below the curve order)",
      );
    }
  }
  if (parameters.keystorePath === undefined) {
    throw new KeystoreError("No wallet configured", {
      details: "Run `gridspot wallet create`, or set GRIDSPOT_PRIVATE_KEY for development.",
    });
  }
  if (parameters.password === undefined) {
    throw new KeystoreError("The keystore needs a password", { details: "Set GRIDSPOT_PASSWORD." });
  }
  return privateKeyToAccount(await readKeystoreFile(parameters.keystorePath, parameters.password));
}
