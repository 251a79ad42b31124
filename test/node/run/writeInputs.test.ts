import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RunError } from "../../../node/run/errors.ts";
import { writeInputs } from "../../../node/run/writeInputs.ts";

let root: string;
let work: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "gridspot-inputs-"));
  work = join(root, "work");
  outside = join(root, "outside");
  mkdirSync(work);
  mkdirSync(outside);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const bytes = (s: string) => new TextEncoder().encode(s);

describe("writeInputs", () => {
  it("writes files and folders, with the executable bit on request", async () => {
    await writeInputs(work, [
      { path: "data/in.txt", content: bytes("hello") },
      { path: "./run.sh", content: bytes("#!/bin/sh\n"), executable: true },
      { path: "data/deep/er/x.bin", content: new Uint8Array([0, 1, 2]) },
    ]);
    expect(readFileSync(join(work, "data/in.txt"), "utf8")).toBe("hello");
    expect(statSync(join(work, "run.sh")).mode & 0o777).toBe(0o755);
    expect(statSync(join(work, "data/in.txt")).mode & 0o777).toBe(0o644);
    expect([...readFileSync(join(work, "data/deep/er/x.bin"))]).toEqual([0, 1, 2]);
  });

  it.each([
    ["/etc/passwd", /must be relative/],
    ["../escape.txt", /must not contain "\.\."/],
    ["a/../../escape.txt", /must not contain "\.\."/],
    ["a/..", /must not contain "\.\."/],
    ["", /empty input path/],
    [".", /names the work dir itself/],
    ["a\0b", /NUL byte/],
  ])("rejects %j and writes nothing", async (path, message) => {
    const files = [
      { path: "ok.txt", content: bytes("ok") },
      { path, content: bytes("x") },
    ];
    await expect(writeInputs(work, files)).rejects.toThrow(RunError);
    await expect(writeInputs(work, files)).rejects.toThrow(message);
    expect(readdirSync(work)).toEqual([]);
    expect(readdirSync(outside)).toEqual([]);
  });

  it("rejects repeated paths and non-binary content", async () => {
    await expect(
      writeInputs(work, [
        { path: "a.txt", content: bytes("1") },
        { path: "./a.txt", content: bytes("2") },
      ]),
    ).rejects.toThrow(/given twice/);
    await expect(
      writeInputs(work, [{ path: "a.txt", content: "text" as unknown as Uint8Array }]),
    ).rejects.toThrow(/must be a Uint8Array/);
  });

  it("never writes through a symlinked folder or file", async () => {
    symlinkSync(outside, join(work, "link"));
    symlinkSync(join(outside, "target.txt"), join(work, "file.txt"));
    await expect(writeInputs(work, [{ path: "link/x.txt", content: bytes("x") }])).rejects.toThrow(
      /link on its path is not a plain folder/,
    );
    await expect(writeInputs(work, [{ path: "link/sub/x.txt", content: bytes("x") }])).rejects.toThrow(
      RunError,
    );
    await expect(writeInputs(work, [{ path: "file.txt", content: bytes("x") }])).rejects.toThrow(
      /it is a symlink/,
    );
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(join(work, "file.txt")).isSymbolicLink()).toBe(true);
  });
});
