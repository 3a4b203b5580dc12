/** A `wsi <name>` subcommand. One file per command in pipeline/commands/, found by name. */
export interface Command {
  readonly name: string;
  /** One line for `wsi --help`. */
  readonly summary: string;
  /** Full usage text for `wsi <name> --help`. */
  readonly usage: string;
  /** Runs the command; returns the process exit code. Throws WsiError for user mistakes. */
  run(argv: string[]): Promise<number>;
}
