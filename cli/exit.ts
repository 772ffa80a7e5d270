/**
 * The `troupe` command's exit codes and how a finished command maps to one (troupe.ts documents them): 0 done, 1 a
 * failure (the system refused, could not be reached, the workflow aborted), 2 a usage error.
 */
import { CommanderError } from 'commander';

export const EXIT = { done: 0, failed: 1, usage: 2 } as const;

/** A command's arguments are wrong in a way the option parsers cannot see (a combination, a missing `--by`). */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Commander's codes for help it printed on request; every other CommanderError is a usage error. */
const HELP_CODES = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/** The exit code for what `parseAsync` threw: commander's own (help, usage) or an error no command caught. */
export function exitCodeOf(error: unknown): number {
  if (!(error instanceof CommanderError)) return EXIT.failed;
  // `help` without a command is commander's help with `error: true` (exit 1): still a usage error.
  return HELP_CODES.has(error.code) && error.exitCode === 0 ? EXIT.done : EXIT.usage;
}

/** The failure's one line (`troupe <command>: <message>`) and, with `verbose`, its cause on a second. */
export function failureText(command: string, error: unknown, verbose: boolean): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? error.cause : undefined;
  const causeLine = verbose && cause !== undefined ? `\n  cause: ${cause instanceof Error ? cause.message : String(cause)}` : '';
  return `troupe ${command}: ${message}${causeLine}\n`;
}
