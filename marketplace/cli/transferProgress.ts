import type { TransferProgress } from "../transfer/sendFiles.ts";

type Direction = "inputs" | "outputs";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
const bytesText = (n: number): string => {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${UNITS[unit]}`;
};

/**
 * A `JobEvents.onTransfer` handler that writes the transfer's progress as lines for people (the CLI
 * sends them to stderr): one at each tenth of the bytes or after a second without one, and one at
 * the end. `gridspot: inputs sent 12.0 MiB of 64.0 MiB (18 %), data/train.bin`.
 */
export function transferProgress(
  write: (line: string) => void,
  now: () => number = Date.now,
): (direction: Direction, progress: TransferProgress) => void {
  const state = new Map<Direction, { tenth: number; at: number; done: boolean }>();
  return (direction, p) => {
    const s = state.get(direction) ?? { tenth: -1, at: 0, done: false };
    state.set(direction, s);
    if (s.done) return;
    const tenth = p.totalBytes === 0 ? 10 : Math.floor((p.bytes * 10) / p.totalBytes);
    const done = p.bytes >= p.totalBytes;
    if (!done && tenth <= s.tenth && now() - s.at < 1_000) return;
    s.tenth = tenth;
    s.at = now();
    s.done = done;
    const percent = p.totalBytes === 0 ? 100 : Math.floor((p.bytes * 100) / p.totalBytes);
    const verb = direction === "inputs" ? "sent" : "received";
    write(
      `${direction} ${verb} ${bytesText(p.bytes)} of ${bytesText(p.totalBytes)} (${percent} %)${done ? "" : `, ${p.path}`}`,
    );
  };
}
