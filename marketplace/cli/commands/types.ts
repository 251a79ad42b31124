/** What a command returns: the `--json` document, the text for people, and the exit code. */
export type CommandResult = { json: unknown; text: string; exitCode?: number };
