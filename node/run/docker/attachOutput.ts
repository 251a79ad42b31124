import { Writable } from "node:stream";
import type Docker from "dockerode";

/** A container's attached output. */
export interface AttachedOutput {
  /** Settles when the Engine closes the stream (the container stopped) or it fails. */
  readonly ended: Promise<void>;
  /** Drops the stream (after the container stopped, when the drain takes too long). */
  destroy(): void;
}

/**
 * Attaches to a created (not yet started) container's stdout and stderr, so no output is missed,
 * and passes each chunk on as a Buffer. The Engine multiplexes both streams (no TTY): the modem's
 * demuxer splits them.
 */
export async function attachOutput(
  container: Docker.Container,
  handlers: {
    onStdout?: ((chunk: Buffer) => void) | undefined;
    onStderr?: ((chunk: Buffer) => void) | undefined;
  },
): Promise<AttachedOutput> {
  const stream = await container.attach({ stream: true, stdout: true, stderr: true, logs: false });
  const sink = (handler: ((chunk: Buffer) => void) | undefined) =>
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        try {
          handler?.(chunk);
        } catch {
          // A consumer's bug must not break the stream (nor the daemon): the job's output goes on.
        }
        callback();
      },
    });
  container.modem.demuxStream(stream, sink(handlers.onStdout), sink(handlers.onStderr));
  const ended = new Promise<void>((resolve) => {
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });
  return {
    ended,
    destroy: () => (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.(),
  };
}
