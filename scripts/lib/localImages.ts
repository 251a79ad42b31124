import { existsSync, readFileSync } from "node:fs";
import { Readable } from "node:stream";
import type Docker from "dockerode";

/** Where Debian's `busybox-static` (or `busybox`) puts the binary. */
const BUSYBOX_PATHS = ["/usr/bin/busybox", "/bin/busybox"] as const;

const DOCKERFILE = `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "sh", "-c", "/bin/busybox --install -s /bin && mkdir -m 0755 /work"]
LABEL gridspot.image="busybox-local"
`;

/**
 * Builds, when the host lacks it, a tiny offline image for tests, demos and benches: `FROM scratch`
 * with the host's static busybox at `/bin/busybox`, its applets linked into `/bin`, an empty `/work`
 * and nothing else. No registry is contacted (the build context is an in-memory tar and the build
 * step has no network). Returns the image ID (`sha256:…`).
 * @throws Error when no busybox binary is found (`apt-get install busybox-static`) or the build fails.
 */
export async function ensureBusyboxImage(docker: Docker, tag = "gridspot/busybox:local"): Promise<string> {
  const existing = await docker
    .getImage(tag)
    .inspect()
    .catch(() => undefined);
  if (existing !== undefined) return existing.Id;

  const busyboxPath = BUSYBOX_PATHS.find((path) => existsSync(path));
  if (busyboxPath === undefined) {
    throw new Error(
      `no busybox binary at ${BUSYBOX_PATHS.join(" or ")}: apt-get install busybox-static to build ${tag}`,
    );
  }
  const busybox = readFileSync(busyboxPath);
  if (!busybox.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))) {
    throw new Error(`${busyboxPath} is not an ELF binary`);
  }
  const context = ustar([
    { name: "Dockerfile", content: Buffer.from(DOCKERFILE), mode: 0o644 },
    { name: "busybox", content: busybox, mode: 0o755 },
  ]);
  return buildOffline(docker, tag, Readable.from([context]));
}

/**
 * Builds `tag` from a build context (a tar stream, or a folder and the files of it to send) with no
 * network in the build steps, and returns its image ID.
 * @throws Error in the builder's words when a step fails.
 */
export async function buildOffline(
  docker: Docker,
  tag: string,
  context: Parameters<Docker["buildImage"]>[0],
): Promise<string> {
  const stream = await docker.buildImage(context, { t: tag, networkmode: "none", forcerm: true, rm: true });
  await new Promise<void>((resolve, reject) => {
    docker.modem.followProgress(stream, (error: Error | null, events: Array<{ error?: string }>) => {
      const failed = error ?? events.find((e) => e.error !== undefined)?.error;
      if (failed) reject(new Error(`building ${tag} failed: ${String(failed)}`));
      else resolve();
    });
  });
  return (await docker.getImage(tag).inspect()).Id;
}

/** A minimal POSIX ustar archive of regular files (short names, no directories). */
function ustar(files: ReadonlyArray<{ name: string; content: Buffer; mode: number }>): Buffer {
  const blocks: Buffer[] = [];
  for (const file of files) {
    const header = Buffer.alloc(512);
    const field = (offset: number, length: number, value: string) =>
      header.write(value, offset, length, "ascii");
    const octal = (offset: number, length: number, value: number) =>
      field(offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
    field(0, 100, file.name);
    octal(100, 8, file.mode);
    octal(108, 8, 0);
    octal(116, 8, 0);
    octal(124, 12, file.content.length);
    octal(136, 12, 0);
    field(148, 8, "        ");
    field(156, 1, "0");
    field(257, 6, "ustar\0");
    field(263, 2, "00");
    let sum = 0;
    for (const byte of header) sum += byte;
    field(148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
    blocks.push(header, file.content, Buffer.alloc((512 - (file.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}
