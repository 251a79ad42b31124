import type { Logger } from "../../marketplace/log/createLogger.ts";

/**
 * A logger that writes to `base` and also hands each info, warning and error, as one line of words,
 * to `line` (an endpoint's job log, so `job logs` shows its replicas starting, ready and stopping).
 * Debug lines stay in `base`.
 */
export function teeLogger(base: Logger, line: (text: string) => void, omit: readonly string[] = []): Logger {
  const words = (level: string, message: string, fields?: Record<string, unknown>) => {
    const shown = Object.entries(fields ?? {})
      .filter(([key]) => !omit.includes(key))
      .map(([key, value]) => `${key} ${typeof value === "string" ? value : String(value)}`);
    const prefix = level === "info" ? "" : `${level}: `;
    line(`${prefix}${message}${shown.length === 0 ? "" : ` (${shown.join(", ")})`}\n`);
  };
  return {
    error: (m, f) => {
      base.error(m, f);
      words("error", m, f);
    },
    warn: (m, f) => {
      base.warn(m, f);
      words("warning", m, f);
    },
    info: (m, f) => {
      base.info(m, f);
      words("info", m, f);
    },
    debug: (m, f) => base.debug(m, f),
    child: (name) => teeLogger(base.child(name), line, omit),
  };
}
