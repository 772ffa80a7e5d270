#!/usr/bin/env node
/**
 * The `troupe` command (program.ts declares its commands; `troupe <command> --help` describes each).
 *   troupe inspect [--port <n>] [--host 127.0.0.1] [--latency <ms>]
 *     the demo support system (examples/support-workflow.ts) with the inspector attached; prints the URL, token
 *     included, and runs until interrupted. New tickets arrive every few seconds.
 *   troupe inspect --nats <url> --system <name>    the inspector attached to a running system (a client node)
 *   troupe start <system file>                     a node of the system the file sets up (start.ts)
 *   troupe nodes | ps | escrow | dlq | trace       against a running system over NATS (remote.ts)
 *   troupe run <logic> --input <json>              a durable workflow, followed live (run.ts)
 *
 * Exit codes:
 *   0  done, or `--help`
 *   1  a failure: the system refused or could not be reached, the workflow aborted or timed out. One line on
 *      stderr, `troupe <command>: <message>`; `--verbose` adds the cause on a second line.
 *   2  a usage error: an unknown command or option, a missing argument, a bad value. The message, then the
 *      command's usage, on stderr.
 */
import { CommanderError } from 'commander';
import { exitCodeOf } from './exit.js';
import { createProgram } from './program.js';

const argv = process.argv.slice(2);
// `troupe` alone is `troupe --help` (help on stdout, exit 0), where commander would print it as an error.
createProgram().parseAsync(argv.length === 0 ? ['--help'] : argv, { from: 'user' }).catch((error: unknown) => {
  // Commander has already written its own (help on stdout, a usage error on stderr); anything else escaped a command.
  if (!(error instanceof CommanderError)) process.stderr.write(`troupe: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = exitCodeOf(error);
});
