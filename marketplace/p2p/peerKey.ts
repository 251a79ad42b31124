import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";
import { BaseError } from "../errors/base.ts";

/**
 * Loads the node's libp2p identity from `path`, creating an Ed25519 key there (mode 0600) the first
 * time, so a node keeps its peer id across restarts.
 */
export async function loadOrCreatePeerKey(path: string): Promise<PrivateKey> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  if (bytes !== undefined) {
    try {
      return privateKeyFromProtobuf(bytes);
    } catch (error) {
      throw new BaseError(`The libp2p key file ${path} is corrupt`, {
        cause: error,
        details: "Move it away to create a new peer identity (the node's peer id will change).",
      });
    }
  }
  const key = await generateKeyPair("Ed25519");
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  await writeFile(path, privateKeyToProtobuf(key), { mode: 0o600, flag: "wx" });
  return key;
}
