import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { collectOutputs } from "../../../node/run/collectOutputs.ts";

let root: string;
let work: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "gridspot-outputs-"));
  work = join(root, "work");
  mkdirSync(join(work, "out", "sub"), { recursive: true });
  mkdirSync(join(root, "outside"));
  writeFileSync(join(root, "outside", "secret.txt"), "secret");
  writeFileSync(join(work, "out", "a.txt"), "aaaa");
  writeFileSync(join(work, "out", "b.log"), "bb");
  writeFileSync(join(work, "out", "sub", "c.txt"), "c");
  writeFileSync(join(work, "input.txt"), "in");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

const sha = (text: string) => createHash("sha256").update(text).digest("hex");
const big = { maxTotalBytes: 1_000_000, maxFiles: 100 };

describe("collectOutputs", () => {
  it("lists files matching the globs with size and sha256, relative and in path order, skipping folders", async () => {
    const result = await collectOutputs(work, ["out/**", "*.txt"], big);
    expect(result.files).toEqual([
      { path: "input.txt", size: 2, sha256: sha("in") },
      { path: "out/a.txt", size: 4, sha256: sha("aaaa") },
      { path: "out/b.log", size: 2, sha256: sha("bb") },
      { path: "out/sub/c.txt", size: 1, sha256: sha("c") },
    ]);
    expect(result.dropped).toEqual([]);
    expect(result.totalBytes).toBe(9);
    expect((await collectOutputs(work, ["out/*.txt"], big)).files.map((f) => f.path)).toEqual(["out/a.txt"]);
    expect((await collectOutputs(work, [], big)).files).toEqual([]);
  });

  it("returns what fits and lists what the limits dropped", async () => {
    const bytes = await collectOutputs(work, ["out/**"], { maxTotalBytes: 5, maxFiles: 100 });
    expect(bytes.files.map((f) => f.path)).toEqual(["out/a.txt", "out/sub/c.txt"]);
    expect(bytes.dropped).toEqual([{ path: "out/b.log", size: 2, reason: "max-total-bytes" }]);
    expect(bytes.totalBytes).toBe(5);

    const count = await collectOutputs(work, ["out/**"], { maxTotalBytes: 1_000, maxFiles: 1 });
    expect(count.files.map((f) => f.path)).toEqual(["out/a.txt"]);
    expect(count.dropped).toEqual([
      { path: "out/b.log", size: 2, reason: "max-files" },
      { path: "out/sub/c.txt", size: 1, reason: "max-files" },
    ]);
  });

  it("never follows a symlink: one leaving the work dir or one inside it is dropped and named", async () => {
    symlinkSync(join(root, "outside"), join(work, "out", "dirlink"));
    symlinkSync(join(root, "outside", "secret.txt"), join(work, "out", "filelink.txt"));
    symlinkSync(join(work, "out", "a.txt"), join(work, "out", "inside-link.txt"));
    symlinkSync(join(work, "out", "sub"), join(work, "out", "inside-dir"));
    symlinkSync(join(root, "nowhere"), join(work, "out", "dangling.txt"));
    const result = await collectOutputs(work, ["out/**", "out/dirlink/*", "out/inside-dir/*"], big);
    expect(result.files.map((f) => f.path)).toEqual(["out/a.txt", "out/b.log", "out/sub/c.txt"]);
    expect(result.files.every((f) => f.sha256 !== sha("secret"))).toBe(true);
    expect(result.dropped).toEqual(
      expect.arrayContaining([
        { path: "out/filelink.txt", reason: "outside-work-dir" },
        { path: "out/dirlink/secret.txt", reason: "outside-work-dir" },
        { path: "out/inside-link.txt", reason: "symlink" },
        { path: "out/inside-dir/c.txt", reason: "symlink" },
        { path: "out/dangling.txt", reason: "symlink" },
      ]),
    );
  });

  it("reports fifos and sockets instead of blocking on them", async () => {
    const { execFileSync } = await import("node:child_process");
    execFileSync("mkfifo", [join(work, "out", "pipe.txt")]);
    const result = await collectOutputs(work, ["out/*.txt"], big);
    expect(result.dropped).toEqual([{ path: "out/pipe.txt", reason: "not-a-file" }]);
  });

  it.each([["/etc/*"], ["../*"], ["out/../../*"]])("rejects the glob %j", async (glob) => {
    await expect(collectOutputs(work, [glob], big)).rejects.toThrow(/output glob/);
  });

  it("rejects bad limits and a missing work dir", async () => {
    await expect(collectOutputs(work, ["*"], { maxTotalBytes: -1, maxFiles: 1 })).rejects.toThrow(
      /maxTotalBytes/,
    );
    await expect(collectOutputs(join(root, "nope"), ["*"], big)).rejects.toThrow(/does not exist/);
  });
});
