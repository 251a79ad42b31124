import {
  createCipheriv,
  createDecipheriv,
  randomBytes,
  randomUUID,
  scrypt,
  timingSafeEqual,
} from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { bytesToHex, type Hex, hexToBytes, keccak256 } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { z } from "zod";
import { BaseError } from "../errors/base.ts";

const scryptAsync = promisify(scrypt) as (
  password: string,
  salt: Uint8Array,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/** The wallet cannot be opened (missing, corrupt, wrong password). The CLI exits with 4. */
export class KeystoreError extends BaseError {
  override name = "KeystoreError";
}

/** Web3 Secret Storage v3 (the format geth, Foundry and MetaMask export): scrypt + AES-128-CTR. */
const keystoreFile = z.object({
  version: z.literal(3),
  id: z.string(),
  address: z.string().regex(/^(0x)?[0-9a-fA-F]{40}$/),
  crypto: z.object({
    cipher: z.literal("aes-128-ctr"),
    cipherparams: z.object({ iv: z.string().regex(/^[0-9a-f]{32}$/i) }),
    ciphertext: z.string().regex(/^[0-9a-f]{64}$/i),
    kdf: z.literal("scrypt"),
    kdfparams: z.object({
      dklen: z.literal(32),
      n: z.number().int().positive(),
      r: z.number().int().positive(),
      p: z.number().int().positive(),
      salt: z.string().regex(/^[0-9a-f]+$/i),
    }),
    mac: z.string().regex(/^[0-9a-f]{64}$/i),
  }),
});

/** scrypt cost: 2^18 as geth's "standard"; tests pass a smaller one. */
export const DEFAULT_SCRYPT_N = 1 << 18;

async function deriveKey(
  password: string,
  salt: Uint8Array,
  n: number,
  r: number,
  p: number,
): Promise<Buffer> {
  return scryptAsync(password, salt, 32, { N: n, r, p, maxmem: 256 * n * r + 64 * 1024 * 1024 });
}

export async function encryptKeystore(
  privateKey: Hex,
  password: string,
  n = DEFAULT_SCRYPT_N,
): Promise<string> {
  const salt = randomBytes(32);
  const iv = randomBytes(16);
  const derived = await deriveKey(password, salt, n, 8, 1);
  const cipher = createCipheriv("aes-128-ctr", derived.subarray(0, 16), iv);
  const ciphertext = Buffer.concat([cipher.update(hexToBytes(privateKey)), cipher.final()]);
  const mac = keccak256(Buffer.concat([derived.subarray(16, 32), ciphertext])).slice(2);
  const file = {
    version: 3,
    id: randomUUID(),
    address: privateKeyToAddress(privateKey).slice(2).toLowerCase(),
    crypto: {
      cipher: "aes-128-ctr",
      cipherparams: { iv: iv.toString("hex") },
      ciphertext: ciphertext.toString("hex"),
      kdf: "scrypt",
      kdfparams: { dklen: 32, n, r: 8, p: 1, salt: salt.toString("hex") },
      mac,
    },
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

export async function decryptKeystore(json: string, password: string): Promise<Hex> {
  let parsed: z.infer<typeof keystoreFile>;
  try {
    parsed = keystoreFile.parse(JSON.parse(json));
  } catch (error) {
    throw new KeystoreError("The keystore file is not a version-3 scrypt keystore", { cause: error });
  }
  const { kdfparams, cipherparams, ciphertext, mac } = parsed.crypto;
  let derived: Buffer;
  try {
    derived = await deriveKey(
      password,
      Buffer.from(kdfparams.salt, "hex"),
      kdfparams.n,
      kdfparams.r,
      kdfparams.p,
    );
  } catch (error) {
    // node's scrypt refuses costs it cannot run (n not a power of two, too much memory) with a RangeError.
    throw new KeystoreError("The keystore's scrypt parameters cannot be used", { cause: error });
  }
  const cipherBytes = Buffer.from(ciphertext, "hex");
  const expected = hexToBytes(keccak256(Buffer.concat([derived.subarray(16, 32), cipherBytes])));
  if (!timingSafeEqual(expected, Buffer.from(mac, "hex"))) throw new KeystoreError("Wrong keystore password");
  const decipher = createDecipheriv(
    "aes-128-ctr",
    derived.subarray(0, 16),
    Buffer.from(cipherparams.iv, "hex"),
  );
  return bytesToHex(Buffer.concat([decipher.update(cipherBytes), decipher.final()]));
}

export async function writeKeystoreFile(
  path: string,
  privateKey: Hex,
  password: string,
  n?: number,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, await encryptKeystore(privateKey, password, n), { mode: 0o600, flag: "wx" });
}

export async function readKeystoreFile(path: string, password: string): Promise<Hex> {
  let json: string;
  try {
    json = await readFile(path, "utf8");
  } catch (error) {
    throw new KeystoreError(`No keystore at ${path}`, {
      cause: error,
      details: "Create one with `gridspot wallet create`, or set GRIDSPOT_PRIVATE_KEY for development.",
    });
  }
  return decryptKeystore(json, password);
}
