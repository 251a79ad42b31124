/** Progress on stderr for long waits: one line rewritten in place on a terminal, plain lines otherwise. */
export type Progress = {
  /** True on a terminal: `update` rewrites one line, so it may be called often. */
  live: boolean;
  /** The current state: replaces the live line on a terminal, a line of its own otherwise. */
  update(text: string): void;
  /** A state that stays: always a line of its own (ends a live line first). */
  done(text: string): void;
  /** Erases the live line (before other output goes to the terminal). */
  clear(): void;
};

/** Progress for the bid window, offers, confirmations and transfers. Silent when `quiet`. */
export function createProgress(
  stream: NodeJS.WriteStream = process.stderr,
  options: { quiet?: boolean } = {},
): Progress {
  const live = stream.isTTY === true;
  let shown = false;
  const write = (s: string) => {
    if (options.quiet !== true) stream.write(s);
  };
  return {
    live,
    update(text) {
      if (!live) return write(`gridspot: ${text}\n`);
      write(`\r\u001b[2Kgridspot: ${text}`);
      shown = true;
    },
    done(text) {
      write(`${live && shown ? "\r\u001b[2K" : ""}gridspot: ${text}\n`);
      shown = false;
    },
    clear() {
      if (live && shown) write("\r\u001b[2K");
      shown = false;
    },
  };
}
