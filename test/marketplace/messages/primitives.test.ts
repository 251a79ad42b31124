import { describe, expect, it } from "vitest";
import {
  address,
  bytes32,
  gpuClass,
  hex,
  id,
  peerIdText,
  rate,
  uint,
  uintString,
} from "../../../marketplace/messages/primitives.ts";
import { PEER_A } from "./fixtures.ts";

const UINT256_MAX = 2n ** 256n - 1n;

describe("uintString / uint", () => {
  it.each([
    ["0", 0n],
    ["1", 1n],
    ["18446744073709551616", 2n ** 64n],
    [UINT256_MAX.toString(), UINT256_MAX],
  ])("reads %s exactly", (text, value) => {
    expect(uintString.parse(text)).toBe(value);
    expect(uint.parse(text)).toBe(value);
  });

  it.each(["", "-1", "01", "00", "1.5", "1e3", " 1", "1 ", "0x10", "+1", "１"])("refuses %j", (text) => {
    expect(uintString.safeParse(text).success).toBe(false);
  });

  it("refuses numbers (money never travels as a float) and negative bigints", () => {
    expect(uint.safeParse(5).success).toBe(false);
    expect(uint.safeParse(-1n).success).toBe(false);
    expect(uint.parse(5n)).toBe(5n);
  });

  it("refuses more than 78 digits", () => {
    expect(uintString.safeParse("9".repeat(79)).success).toBe(false);
  });

  // The schema says "uint256"; 78 digits also hold values up to 10^78 - 1 > 2^256 - 1. Such a
  // value can never be signed into a voucher or sent to the escrow.
  it("refuses values above uint256", () => {
    expect(uintString.safeParse((UINT256_MAX + 1n).toString()).success).toBe(false);
    expect(uint.safeParse(UINT256_MAX + 1n).success).toBe(false);
  });
});

describe("address", () => {
  const checksummed = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

  it("checksums lower- and upper-case addresses", () => {
    expect(address.parse(checksummed.toLowerCase())).toBe(checksummed);
    expect(address.parse(`0x${checksummed.slice(2).toUpperCase()}`)).toBe(checksummed);
    expect(address.parse(checksummed)).toBe(checksummed);
  });

  it.each([
    "",
    "0x",
    checksummed.slice(2),
    `${checksummed}00`,
    checksummed.slice(0, -1),
    "0x70997970C51812dc3A010C7d01b50e0d17dc79CZ",
  ])("refuses %j", (text) => {
    expect(address.safeParse(text).success).toBe(false);
  });
});

describe("hex / bytes32", () => {
  it("accepts 0x-prefixed hex of any case, bytes32 only at 32 bytes", () => {
    expect(hex.safeParse("0x").success).toBe(true);
    expect(hex.safeParse("0xdeadBEEF").success).toBe(true);
    expect(hex.safeParse("deadbeef").success).toBe(false);
    expect(hex.safeParse("0xg0").success).toBe(false);
    expect(bytes32.safeParse(`0x${"ab".repeat(32)}`).success).toBe(true);
    expect(bytes32.safeParse(`0x${"ab".repeat(31)}`).success).toBe(false);
    expect(bytes32.safeParse(`0x${"ab".repeat(33)}`).success).toBe(false);
  });
});

describe("gpuClass", () => {
  it.each(["nvidia-h100-80gb", "nvidia-rtx4090-24gb", "amd-mi300x-192gb", "nvidia-t4-15gb"])(
    "accepts %s",
    (c) => {
      expect(gpuClass.parse(c)).toBe(c);
    },
  );

  it.each([
    "",
    "nvidia-h100",
    "NVIDIA-h100-80gb",
    "nvidia-h100-80GB",
    "nvidia-h100-80",
    "nvidia-rtx-4090-24gb",
    "nvidia h100 80gb",
    "nvidia-h100-gb",
  ])("refuses %j", (c) => {
    expect(gpuClass.safeParse(c).success).toBe(false);
  });
});

describe("id", () => {
  it("accepts 8 to 64 url-safe characters", () => {
    expect(id.safeParse("abcd-_12").success).toBe(true);
    expect(id.safeParse("a".repeat(64)).success).toBe(true);
    expect(id.safeParse("a".repeat(7)).success).toBe(false);
    expect(id.safeParse("a".repeat(65)).success).toBe(false);
    expect(id.safeParse("job/../../x").success).toBe(false);
    expect(id.safeParse("job 00001").success).toBe(false);
    expect(id.safeParse("job.00001").success).toBe(false);
  });
});

describe("peerIdText", () => {
  it("accepts base58 peer ids and base32 CIDs, refuses the rest", () => {
    expect(peerIdText.safeParse(PEER_A).success).toBe(true);
    expect(peerIdText.safeParse(`b${"a".repeat(58)}`).success).toBe(true);
    // 0, O, I and l are not base58.
    expect(peerIdText.safeParse(`12D3KooW${"0".repeat(44)}`).success).toBe(false);
    expect(peerIdText.safeParse(PEER_A.slice(0, 39)).success).toBe(false);
    expect(peerIdText.safeParse(`${PEER_A}/p2p`).success).toBe(false);
  });
});

describe("rate", () => {
  it("reads prices as bigints and refuses a zero per", () => {
    expect(rate.parse({ meter: "gpu_ms", price: "2000000000000000000", per: "3600000" })).toEqual({
      meter: "gpu_ms",
      price: 2n * 10n ** 18n,
      per: 3_600_000n,
    });
    expect(rate.safeParse({ meter: "gpu_ms", price: "1", per: "0" }).success).toBe(false);
    expect(rate.safeParse({ meter: "gpu_seconds", price: "1", per: "1" }).success).toBe(false);
    expect(rate.safeParse({ meter: "gpu_ms", price: 1, per: "1" }).success).toBe(false);
  });
});
