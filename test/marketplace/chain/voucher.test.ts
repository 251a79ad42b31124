import { getAddress, type Hex, parseUnits, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createChainClients, type WalletChainClients } from "../../../marketplace/chain/clients.ts";
import { type GridspotContracts, getGridspotContracts } from "../../../marketplace/chain/contracts.ts";
import { deployGridspot } from "../../../marketplace/chain/deploy.ts";
import type { Deployment } from "../../../marketplace/chain/deployment.ts";
import {
  compactVoucherSignature,
  hashVoucher,
  InvalidVoucherSignatureError,
  recoverVoucherSigner,
  signVoucher,
} from "../../../marketplace/chain/voucher.ts";
import { type LocalChain, startLocalChain } from "../../../scripts/lib/localChain.ts";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const grid = (amount: string) => parseUnits(amount, 18);

let chain: LocalChain;
let payer: WalletChainClients;
let provider: WalletChainClients;
let deployment: Deployment;
let asPayer: GridspotContracts<WalletChainClients>;
let asProvider: GridspotContracts<WalletChainClients>;
let channelId: bigint;

beforeAll(async () => {
  chain = await startLocalChain({ accounts: 2 });
  const [payerKey, providerKey] = chain.privateKeys;
  payer = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: payerKey ?? "" });
  provider = await createChainClients({ rpcUrl: chain.rpcUrl, privateKey: providerKey ?? "" });
  deployment = await deployGridspot(payer);
  asPayer = getGridspotContracts(payer, deployment);
  asProvider = getGridspotContracts(provider, deployment);
  const wait = async (hash: Promise<Hex>) =>
    expect((await payer.publicClient.waitForTransactionReceipt({ hash: await hash })).status).toBe("success");
  await wait(asPayer.computeToken.write.approve([deployment.contracts.computeEscrow, grid("100")]));
  await wait(asPayer.computeEscrow.write.deposit([grid("100")]));
  const expiry = (await payer.publicClient.getBlock()).timestamp + 86_400n;
  await wait(
    asPayer.computeEscrow.write.openChannel([provider.walletClient.account.address, grid("100"), expiry]),
  );
  channelId = await asPayer.computeEscrow.read.lastChannelId();
});

afterAll(async () => {
  await chain?.stop();
});

const voucherFor = (cumulativeAmount: bigint) => ({
  chainId: deployment.chainId,
  escrow: deployment.contracts.computeEscrow,
  voucher: { channelId, cumulativeAmount },
});

/** The same signature with s replaced by n − s: valid for secp256k1, refused by the escrow. */
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  return `${signature.slice(0, 66)}${toHex(SECP256K1_N - s, { size: 32 }).slice(2)}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

describe("vouchers", () => {
  it("hashes to the escrow's own voucherDigest", async () => {
    const parameters = voucherFor(grid("1.25"));
    expect(hashVoucher(parameters)).toBe(
      await asPayer.computeEscrow.read.voucherDigest([channelId, grid("1.25")]),
    );
  });

  it("signs the same with a local account and a wallet client, and recovers the payer", async () => {
    const parameters = voucherFor(grid("2"));
    const fromAccount = await signVoucher(privateKeyToAccount(chain.privateKeys[0] ?? "0x"), parameters);
    const fromWallet = await signVoucher(payer.walletClient, parameters);
    expect(fromWallet).toBe(fromAccount);
    expect(await recoverVoucherSigner({ ...parameters, signature: fromWallet })).toBe(
      getAddress(payer.walletClient.account.address),
    );
    // Another escrow or chain gives another digest, so the payer is not recovered.
    const elsewhere = { ...parameters, chainId: 1 };
    expect(await recoverVoucherSigner({ ...elsewhere, signature: fromWallet })).not.toBe(
      getAddress(payer.walletClient.account.address),
    );
  });

  it("is redeemed by the escrow, which pays the provider less the fee", async () => {
    const cumulativeAmount = grid("3");
    const signature = await signVoucher(payer.walletClient, voucherFor(cumulativeAmount));
    const before = await asProvider.computeToken.read.balanceOf([provider.walletClient.account.address]);
    const { r, vs } = compactVoucherSignature(signature);
    const hash = await asProvider.computeEscrow.write.redeem([channelId, cumulativeAmount, r, vs]);
    expect((await provider.publicClient.waitForTransactionReceipt({ hash })).status).toBe("success");
    const after = await asProvider.computeToken.read.balanceOf([provider.walletClient.account.address]);
    expect(after - before).toBe(cumulativeAmount - (cumulativeAmount * 100n) / 10_000n);
  });

  it("refuses high-s and malformed signatures, as the escrow does", async () => {
    const parameters = voucherFor(grid("4"));
    const signature = await signVoucher(payer.walletClient, parameters);
    const malleable = highS(signature);
    await expect(recoverVoucherSigner({ ...parameters, signature: malleable })).rejects.toThrow(
      InvalidVoucherSignatureError,
    );
    // A high s has no compact form (its top bit is the parity bit): refused before any transaction…
    expect(() => compactVoucherSignature(malleable)).toThrow(InvalidVoucherSignatureError);
    // …and sent raw as (r, vs = s) the escrow reads another s, recovers some other address, refuses.
    const r = `0x${malleable.slice(2, 66)}` as Hex;
    const vs = `0x${malleable.slice(66, 130)}` as Hex;
    await expect(asProvider.computeEscrow.simulate.redeem([channelId, grid("4"), r, vs])).rejects.toThrow(
      /Escrow_InvalidSignature/,
    );
    await expect(
      recoverVoucherSigner({ ...parameters, signature: signature.slice(0, 130) as Hex }),
    ).rejects.toThrow(/65 bytes/);
  });
});
