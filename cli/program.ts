/**
 * The `troupe` commands, their arguments and options, declared with commander (which parses them, checks them and
 * writes `--help`). Each action hands parsed values to the module that does the work and sets the exit code it
 * returns. Errors are reported here so every command reports them the same way:
 *   a usage error (commander's own, or a UsageError from a command): `troupe <command>: <message>`, then the usage;
 *   any other failure: `troupe <command>: <message>` and, with `--verbose`, its cause; exit 1.
 */
import { Argument, Command, Option } from 'commander';
import { withSystem } from './connect.js';
import { EXIT, failureText, UsageError } from './exit.js';
import { inspectDemo, inspectRunning, type InspectOptions } from './inspect.js';
import { json, milliseconds, port, positiveInteger, withConnection, withOutput, type ConnectionOptions } from './options.js';
import { dlq, dlqRequest, escrow, escrowRequest, nodes, ps, trace, type DlqAction, type EscrowAction } from './remote.js';
import { runWorkflow } from './run.js';
import { start, type StartOptions } from './start.js';

type Output = (text: string) => void;
const out: Output = (text) => void process.stdout.write(text);

interface RemoteOptions extends ConnectionOptions {
  /** Unset unless given (a boolean default would show as `(default: false)` in the help). */
  readonly json?: true;
  readonly verbose?: true;
}

/** Commander writes usage errors through this: one line naming the command and the problem, then its usage. */
function usageErrorsOf(command: Command, path: string): Command {
  return command.configureOutput({
    outputError: (text, write) => write(`${path}: ${text.replace(/^error: /, '')}usage: ${path} ${command.usage()}  (${path} --help for details)\n`),
  });
}

/** Sets `handler` as the command's action: its exit code becomes the process's, its errors are reported. */
function act(command: Command, handler: (...args: never[]) => Promise<number | void>): Command {
  return command.action(async (...args: unknown[]) => {
    try {
      const code = await (handler as (...args: unknown[]) => Promise<number | void>)(...args);
      if (code !== undefined) process.exitCode = code;
    } catch (error) {
      // cmd.error prints like commander's own usage errors and throws a CommanderError (exitOverride): exit 2.
      if (error instanceof UsageError) command.error(error.message, { exitCode: EXIT.usage, code: 'troupe.usage' });
      process.stderr.write(failureText(command.name(), error, command.opts()['verbose'] === true));
      process.exitCode = EXIT.failed;
    }
  });
}

/** A subcommand with its usage errors reported under its name. */
function subcommand(program: Command, name: string, description: string): Command {
  const command = program.command(name).description(description);
  return usageErrorsOf(command, `troupe ${name}`);
}

/** A command against a running system: `--nats`, `--system`, `--json`, `--verbose`. */
function remote(program: Command, name: string, description: string): Command {
  return withOutput(withConnection(subcommand(program, name, description)));
}

export function createProgram(): Command {
  // exitOverride and configureOutput first: subcommands copy them when created.
  const program = new Command('troupe')
    .description('Troupe: actors, supervision and durable workflows on XState and NATS.')
    .exitOverride()
    .addHelpText('after', '\n--nats and --system default to TROUPE_NATS_URL and TROUPE_SYSTEM.\nExit codes: 0 done, 1 failed, 2 usage error.');
  usageErrorsOf(program, 'troupe');

  const inspect = withConnection(subcommand(program, 'inspect', 'the inspector (browser UI) on the demo support system, or with --nats on a running system; runs until Ctrl-C'))
    .addOption(new Option('--port <n>', 'the HTTP port (0: a free one)').default(0).argParser(port))
    .addOption(new Option('--host <address>', 'the loopback address to listen on').default('127.0.0.1'))
    .addOption(new Option('--latency <ms>', 'the demo\'s simulated model latency').default(400).argParser(milliseconds));
  act(inspect, async (options: ConnectionOptions & InspectOptions) => {
    // A server (flag or environment) or a system named: the running system's inspector, not the demo's.
    if (options.nats || options.system || process.env['TROUPE_NATS_URL']) return inspectRunning(options, options, out);
    return inspectDemo(options, out);
  });

  const startCommand = subcommand(program, 'start', 'runs a node of the system a file sets up, until SIGINT or SIGTERM')
    .argument('<file>', 'an ES module whose default (or `setup`) export registers the logics; `export const name` names the system')
    .option('--nats <url>', 'the NATS server (default: $TROUPE_NATS_URL; neither: the embedded default, in memory)')
    .option('--system <name>', 'the system\'s name (default: the file\'s `name`, then $TROUPE_SYSTEM)')
    .option('--node <id>', 'this node\'s id')
    .option('--no-inspection', 'do not publish inspection records (for `troupe inspect --nats`)');
  act(startCommand, async (file: string, options: StartOptions) => {
    const system = await start(file, options, out);
    const stop = () => void system.shutdown().finally(() => process.exit(EXIT.done));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  act(remote(program, 'nodes', 'the live nodes: host, pid, actors, shards, last heartbeat'),
    (options: RemoteOptions) => withSystem(options, (system) => nodes(system, options.json === true, out)));

  act(remote(program, 'ps', 'the running actors of every node: state, status, durability, mailbox depth, node')
    .argument('[prefix]', 'only the actors whose address starts with it', ''),
  (prefix: string, options: RemoteOptions) => withSystem(options, (system) => ps(system, prefix, options.json === true, out)));

  act(remote(program, 'escrow', 'the items waiting for a person: list them, or approve, reject or retry one')
    .addArgument(new Argument('<action>', 'what to do').choices(['list', 'approve', 'reject', 'retry']))
    .argument('[item]', 'the item to decide (an id from escrow list)')
    .option('--by <name>', 'who decides; needed to decide, as decisions are recorded with who made them')
    .option('--reason <text>', 'why (reject)')
    .option('--escrow <address>', 'the escrow actor (default: the system\'s)'),
  (action: EscrowAction, item: string | undefined, options: RemoteOptions & { by?: string; reason?: string; escrow?: string }) => {
    const request = escrowRequest(action, item, options);
    return withSystem(options, (system) => escrow(system, request, { ...options, json: options.json === true }, out));
  });

  act(remote(program, 'dlq', 'the dead letters: durable messages that could not be applied; list them, or replay one')
    .addArgument(new Argument('<action>', 'what to do').choices(['list', 'replay']))
    .addArgument(new Argument('[seq]', 'the dead letter to send to its actor again (replay; a seq from dlq list)').argParser(positiveInteger))
    .addOption(new Option('--limit <n>', 'at most this many (list)').default(100).argParser(positiveInteger)),
  (action: DlqAction, seq: number | undefined, options: RemoteOptions & { limit: number }) => {
    const request = dlqRequest(action, seq);
    return withSystem(options, (system) => dlq(system, request, { ...options, json: options.json === true }, out));
  });

  act(remote(program, 'trace', 'a workflow\'s execution trace: every step, attempt, handoff, escalation and compensation')
    .argument('<workflow-id>', 'the workflow'),
  (workflowId: string, options: RemoteOptions) => withSystem(options, (system) => trace(system, workflowId, options.json === true, out)));

  act(remote(program, 'run', 'starts a durable workflow, shows its steps as they happen and prints its output; exit 1 when it aborts')
    .argument('<logic>', 'the workflow logic, as the system registered it')
    .addOption(new Option('--input <json>', 'the workflow\'s input').argParser(json))
    .option('--id <workflow-id>', 'the workflow\'s id (default: <logic>-<time>)')
    .addOption(new Option('--timeout <ms>', 'give up waiting for its output after this long').default(600_000).argParser(positiveInteger)),
  (logic: string, options: RemoteOptions & { input?: unknown; id?: string; timeout: number }) =>
    withSystem(options, (system) => runWorkflow(system, logic, { ...options, json: options.json === true }, out)));

  return program;
}
