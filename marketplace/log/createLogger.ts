/**
 * A named logger (`gridspot:node:meter`) writing one line per event to stderr, so stdout stays free
 * for `--json` output. Level from GRIDSPOT_LOG: error, warn, info (default), debug, silent.
 * Never pass secrets (keys, passwords, tokens, RPC URLs with credentials) to a logger.
 */
export type Logger = {
  error(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  debug(message: string, fields?: Record<string, unknown>): void;
  child(name: string): Logger;
};

const LEVELS = { silent: 0, error: 1, warn: 2, info: 3, debug: 4 } as const;
type Level = keyof typeof LEVELS;

function configuredLevel(): number {
  const value = (process.env.GRIDSPOT_LOG ?? "info").toLowerCase();
  return value in LEVELS ? LEVELS[value as Level] : LEVELS.info;
}

function format(fields: Record<string, unknown> | undefined): string {
  if (fields === undefined) return "";
  return Object.entries(fields)
    .map(
      ([k, v]) =>
        ` ${k}=${typeof v === "string" ? v : typeof v === "bigint" ? v.toString() : JSON.stringify(v)}`,
    )
    .join("");
}

export function createLogger(
  name: string,
  write: (line: string) => void = (l) => process.stderr.write(l),
): Logger {
  const threshold = configuredLevel();
  const emit = (level: Exclude<Level, "silent">, message: string, fields?: Record<string, unknown>) => {
    if (LEVELS[level] > threshold) return;
    write(`${new Date().toISOString()} ${level.padEnd(5)} ${name} ${message}${format(fields)}\n`);
  };
  return {
    error: (m, f) => emit("error", m, f),
    warn: (m, f) => emit("warn", m, f),
    info: (m, f) => emit("info", m, f),
    debug: (m, f) => emit("debug", m, f),
    child: (child) => createLogger(`${name}:${child}`, write),
  };
}
