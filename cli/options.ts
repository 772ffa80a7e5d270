/**
 * Value parsers for the `troupe` options and arguments. Commander calls them while parsing, so a bad value is a usage
 * error (exit 2) that names the option and the value before any command connects anywhere:
 *   troupe inspect: option '--port <n>' argument '70000' is invalid. Expected an integer from 0 to 65535.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';

export function port(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) throw new InvalidArgumentError('Expected an integer from 0 to 65535.');
  return n;
}

/** A duration in milliseconds, >= 0 (fractions allowed). */
export function milliseconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('Expected a number of milliseconds >= 0.');
  return n;
}

export function positiveInteger(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected an integer >= 1.');
  return n;
}

export function json(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw new InvalidArgumentError(`Not JSON: ${(error as Error).message}.`);
  }
}

/** The running system's options, shared by every command that joins one (connect.ts reads the env fallbacks). */
export interface ConnectionOptions {
  readonly nats?: string;
  readonly system?: string;
}

/**
 * Adds `--nats` and `--system`. Their environment fallbacks are applied by connect.ts, not commander's `.env()`:
 * `troupe start` ranks a system file's own `name` above TROUPE_SYSTEM, and `troupe inspect` only switches to the
 * running system when a server is named.
 */
export function withConnection(command: Command): Command {
  return command
    .addOption(new Option('--nats <url>', 'the NATS server of the running system (default: $TROUPE_NATS_URL)'))
    .addOption(new Option('--system <name>', 'the running system\'s name (default: $TROUPE_SYSTEM)'));
}

/** `--json` and `--verbose`, for the commands that talk to a running system. */
export function withOutput(command: Command): Command {
  return command
    .option('--json', 'machine-readable output: JSON on stdout and nothing else')
    .option('--verbose', 'on a failure, the cause on a second line');
}
