import { mkdtempSync, rmSync } from "node:fs";
import { readFile, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  decryptKeystore,
  encryptKeystore,
  KeystoreError,
  readKeystoreFile,
  writeKeystoreFile,
} from "../../../marketplace/wallet/keystore.ts";

// A small scrypt cost keeps the tests fast; the format is the same at any cost.
const N = 1024;
const PASSWORD = "correct horse battery";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "gridspot-keystore-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("encryptKeystore / decryptKeystore", () => {
  it("round-trips a key with the right password", async () => {
    const key = generatePrivateKey();
    const json = await encryptKeystore(key, PASSWORD, N);
    expect(await decryptKeystore(json, PASSWORD)).toBe(key);
  });

  it("writes a Web3 Secret Storage v3 file that names the address and never holds the key", async () => {
    const key = generatePrivateKey();
    const json = await encryptKeystore(key, PASSWORD, N);
    const file = JSON.parse(json) as {
      version: number;
      address: string;
      crypto: { cipher: string; kdf: string; kdfparams: Record<string, unknown>; ciphertext: string };
    };
    expect(file.version).toBe(3);
    expect(file.address).toBe(privateKeyToAddress(key).slice(2).toLowerCase());
    expect(file.crypto.cipher).toBe("aes-128-ctr");
    expect(file.crypto.kdf).toBe("scrypt");
    expect(file.crypto.kdfparams).toMatchObject({ dklen: 32, n: N, r: 8, p: 1 });
    expect(json).not.toContain(key.slice(2));
    // Fresh salt and iv each time: the same key never encrypts the same way twice.
    const again = JSON.parse(await encryptKeystore(key, PASSWORD, N)) as typeof file;
    expect(again.crypto.ciphertext).not.toBe(file.crypto.ciphertext);
  });

  it("refuses the wrong password with a KeystoreError", async () => {
    const json = await encryptKeystore(generatePrivateKey(), PASSWORD, N);
    const error = await decryptKeystore(json, "correct horse batterY").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeystoreError);
    expect((error as KeystoreError).shortMessage).toBe("Wrong keystore password");
  });

  it("refuses a tampered ciphertext or mac as a wrong password, never returning a wrong key", async () => {
    const file = JSON.parse(await encryptKeystore(generatePrivateKey(), PASSWORD, N));
    const flip = (hexText: string) => `${hexText[0] === "0" ? "1" : "0"}${hexText.slice(1)}`;
    const badCipher = structuredClone(file);
    badCipher.crypto.ciphertext = flip(file.crypto.ciphertext);
    const badMac = structuredClone(file);
    badMac.crypto.mac = flip(file.crypto.mac);
    for (const tampered of [badCipher, badMac]) {
      await expect(decryptKeystore(JSON.stringify(tampered), PASSWORD)).rejects.toThrow(
        "Wrong keystore password",
      );
    }
  });

  it.each([
    ["not JSON", "{version: 3"],
    ["an empty object", "{}"],
    ["version 1", JSON.stringify({ version: 1 })],
    ["a pbkdf2 keystore", "pbkdf2"],
    ["a truncated ciphertext", "truncated"],
  ])("refuses %s as not a v3 scrypt keystore", async (_name, variant) => {
    let json = variant;
    if (variant === "pbkdf2" || variant === "truncated") {
      const file = JSON.parse(await encryptKeystore(generatePrivateKey(), PASSWORD, N));
      if (variant === "pbkdf2") file.crypto.kdf = "pbkdf2";
      else file.crypto.ciphertext = file.crypto.ciphertext.slice(0, 40);
      json = JSON.stringify(file);
    }
    const error = await decryptKeystore(json, PASSWORD).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeystoreError);
    expect((error as KeystoreError).shortMessage).toBe(
      "The keystore file is not a version-3 scrypt keystore",
    );
  });

  // A corrupt cost parameter makes node's scrypt throw a bare RangeError, which the CLI would
  // report as an internal error (exit 1) instead of a wallet problem (exit 4).
  it.each([1000, 2 ** 40])(
    "refuses scrypt parameters scrypt cannot run (n = %i) as a KeystoreError",
    async (n) => {
      const file = JSON.parse(await encryptKeystore(generatePrivateKey(), PASSWORD, N));
      file.crypto.kdfparams.n = n;
      await expect(decryptKeystore(JSON.stringify(file), PASSWORD)).rejects.toBeInstanceOf(KeystoreError);
    },
  );
});

describe("writeKeystoreFile / readKeystoreFile", () => {
  it("writes the file with mode 0600 in a new 0700 directory and reads it back", async () => {
    const key = generatePrivateKey();
    const path = join(dir, "wallet", "keystore.json");
    await writeKeystoreFile(path, key, PASSWORD, N);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "wallet"))).mode & 0o777).toBe(0o700);
    expect(await readKeystoreFile(path, PASSWORD)).toBe(key);
  });

  it("never overwrites an existing keystore", async () => {
    const path = join(dir, "keystore.json");
    await writeKeystoreFile(path, generatePrivateKey(), PASSWORD, N);
    const before = await readFile(path, "utf8");
    const error = await writeKeystoreFile(path, generatePrivateKey(), PASSWORD, N).catch((e: unknown) => e);
    expect((error as NodeJS.ErrnoException).code).toBe("EEXIST");
    expect(await readFile(path, "utf8")).toBe(before);
  });

  it("says where it looked when there is no keystore, and how to make one", async () => {
    const path = join(dir, "missing.json");
    const error = await readKeystoreFile(path, PASSWORD).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KeystoreError);
    expect((error as KeystoreError).shortMessage).toBe(`No keystore at ${path}`);
    expect((error as KeystoreError).details).toMatch(/gridspot wallet create/);
  });

  it("refuses a corrupt file on disk", async () => {
    const path = join(dir, "keystore.json");
    await writeFile(path, "\u0000\u0001garbage", { mode: 0o600 });
    await expect(readKeystoreFile(path, PASSWORD)).rejects.toBeInstanceOf(KeystoreError);
  });
});
