import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { KeystoreError, writeKeystoreFile } from "../../../marketplace/wallet/keystore.ts";
import { loadAccount } from "../../../marketplace/wallet/loadAccount.ts";

const PASSWORD = "correct horse battery";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-account-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Everything an error carries that could end up on a screen or in a log. */
function everything(error: unknown): string {
  const e = error as KeystoreError;
  return [e.message, e.shortMessage, e.details, e.stack, String(e.cause), JSON.stringify(e)].join("\n");
}

describe("loadAccount", () => {
  it("uses a raw development key, trimmed, before any keystore", async () => {
    const key = generatePrivateKey();
    const account = await loadAccount({ privateKey: ` ${key}\n`, keystorePath: join(dir, "none.json") });
    expect(account.address).toBe(privateKeyToAddress(key));
  });

  it.each([
    ["one digit short", (k: string) => k.slice(0, -1)],
    ["one digit long", (k: string) => `${k}a`],
    ["without 0x", (k: string) => `${k.slice(2)}00`],
    ["with a non-hex digit", (k: string) => `${k.slice(0, -1)}g`],
  ])("refuses a raw key %s without echoing it", async (_name, mangle) => {
    const key = generatePrivateKey();
    const bad = mangle(key);
    const error = await loadAccount({ privateKey: bad }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeystoreError);
    expect((error as KeystoreError).shortMessage).toBe(
      "The private key must be 0x followed by 64 hex digits",
    );
    const shown = everything(error);
    expect(shown).not.toContain(key.slice(2, 60));
    expect(shown).not.toContain(bad.slice(2, 60));
  });

  // 64 hex digits, but not a secp256k1 key (0, or not below the curve order): the curve library's
  // own error prints the value as a decimal number; ours must not, and must be a wallet error (exit 4).
  it.each([`0x${"00".repeat(32)}`, `0x${"ff".repeat(32)}`])(
    "refuses the out-of-range key %s",
    async (bad) => {
      const error = await loadAccount({ privateKey: bad }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeystoreError);
      expect(everything(error)).not.toContain(bad.slice(2));
      if (BigInt(bad) > 0n) expect(everything(error)).not.toContain(BigInt(bad).toString());
    },
  );

  it("opens the keystore with the password when no raw key is set (an empty one counts as unset)", async () => {
    const key = generatePrivateKey();
    const path = join(dir, "keystore.json");
    await writeKeystoreFile(path, key, PASSWORD, 1024);
    const account = await loadAccount({ privateKey: "", keystorePath: path, password: PASSWORD });
    expect(account.address).toBe(privateKeyToAddress(key));
  });

  it("asks for a wallet, or for its password, when either is missing", async () => {
    await expect(loadAccount({})).rejects.toThrow(KeystoreError);
    await expect(loadAccount({})).rejects.toThrow(/No wallet configured/);
    const path = join(dir, "keystore.json");
    await writeKeystoreFile(path, generatePrivateKey(), PASSWORD, 1024);
    await expect(loadAccount({ keystorePath: path })).rejects.toThrow(/needs a password/);
    await expect(loadAccount({ keystorePath: path, password: "nope" })).rejects.toThrow(
      /Wrong keystore password/,
    );
    await expect(
      loadAccount({ keystorePath: join(dir, "missing.json"), password: PASSWORD }),
    ).rejects.toThrow(/No keystore at/);
  });
});
