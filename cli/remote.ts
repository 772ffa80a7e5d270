/**
 * The `troupe` commands that talk to a running system over NATS (issue 10): `nodes`, `escrow`, `dlq`, `trace`. Each
 * opens a client node of the system (`hostsDurable: false`: it takes no shards and runs nothing), does its one
 * thing and leaves. The server and system come from `--nats` / `--system` or TROUPE_NATS_URL / TROUPE_SYSTEM.
 *
 * Exit codes: 0 done; 1 the system refused or could not be reached (one line on stderr, the cause with
 * `--verbose`); 2 a usage error (with the command's usage).
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { createSystem, type TroupeSystem } from '../src/index.js';
import { table } from './table.js';

export class UsageError extends Error {}

const CONNECTION = {
  nats: { type: 'string' },
  system: { type: 'string' },
  json: { type: 'boolean', default: false },
  verbose: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const satisfies ParseArgsConfig['options'];

export const REMOTE_USAGE = {
  nodes: 'troupe nodes [--nats <url>] [--system <name>] [--json]          the live nodes: host, pid, actors, shards, last heartbeat',
  ps: 'troupe ps [<address prefix>] [--nats <url>] [--system <name>] [--json]   the running actors of every node: state, status, node',
  escrow: 'troupe escrow list|approve|reject|retry [<item id>] --by <name> [--reason <text>] [--escrow <address>] [--nats <url>] [--system <name>] [--json]',
  dlq: 'troupe dlq list [--limit <n>] | replay <dlq seq> [--nats <url>] [--system <name>] [--json]',
  trace: 'troupe trace <workflow id> [--nats <url>] [--system <name>] [--json]   a workflow\'s execution trace',
  run: 'troupe run <workflow logic> --input <json> [--id <workflow id>] [--timeout <ms>] [--nats <url>] [--system <name>] [--json]',
} as const;

type Output = (text: string) => void;

/** Parses `args` with the connection options and `extra`; the positionals and values, or a UsageError. */
function parse<T extends ParseArgsConfig['options']>(command: keyof typeof REMOTE_USAGE, args: string[], extra: T) {
  try {
    return parseArgs({ args, options: { ...CONNECTION, ...extra }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\nusage: ${REMOTE_USAGE[command]}`);
  }
}

/**
 * A client node of the running system that `--nats` / `--system` (or TROUPE_NATS_URL / TROUPE_SYSTEM) name: it hosts
 * nothing. A UsageError naming both when either is missing (`usage` is appended).
 */
export async function connectTo(values: { nats?: string | undefined; system?: string | undefined }, usage: string, logLevel: 'silent' | 'warn' = 'silent'): Promise<TroupeSystem> {
  const url = values.nats ?? process.env['TROUPE_NATS_URL'];
  const name = values.system ?? process.env['TROUPE_SYSTEM'];
  if (!url || !name) throw new UsageError(`--nats and --system (or TROUPE_NATS_URL and TROUPE_SYSTEM) name the running system\nusage: ${usage}`);
  return createSystem({ name, logLevel, nats: { servers: url, hostsDurable: false, startupTimeoutMs: 5_000, connectTimeoutMs: 5_000 } });
}

/** Runs one remote command; resolves with its exit code. */
export async function runRemote(command: keyof typeof REMOTE_USAGE, args: string[], out: Output): Promise<number> {
  const extra = {
    by: { type: 'string' }, reason: { type: 'string' }, escrow: { type: 'string' }, limit: { type: 'string' },
    input: { type: 'string' }, id: { type: 'string' }, timeout: { type: 'string' },
  } as const;
  const { values, positionals } = parse(command, args, extra);
  if (values.help) {
    out(`usage: ${REMOTE_USAGE[command]}\n`);
    return 0;
  }
  const system = await connectTo(values, REMOTE_USAGE[command]);
  try {
    switch (command) {
      case 'nodes': return await nodes(system, values.json, out);
      case 'ps': return await ps(system, positionals, values.json, out);
      case 'escrow': return await escrow(system, positionals, values, out);
      case 'dlq': return await dlq(system, positionals, values, out);
      case 'trace': return await trace(system, positionals, values.json, out);
      case 'run': return await runWorkflow(system, positionals, values, out);
    }
  } finally {
    await system.shutdown({ timeoutMs: 2_000 });
  }
}

async function ps(system: TroupeSystem, positionals: string[], json: boolean, out: Output): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`ps takes at most one address prefix\nusage: ${REMOTE_USAGE.ps}`);
  const [prefix = ''] = positionals;
  // The client node this command runs on hosts nothing: every actor listed runs on a node of the system.
  const actors = (await system.actors()).filter((a) => a.node !== system.node && a.address.startsWith(prefix));
  if (json) return out(`${JSON.stringify(actors)}\n`), 0;
  const rows = actors.map((a) => [a.address, a.logic, a.value || '-', a.status ?? '-', a.state, a.durable ? 'yes' : 'no', String(a.queued), a.node]);
  out(table(['address', 'logic', 'state', 'status', 'cell', 'durable', 'queued', 'node'], rows));
  return 0;
}

async function nodes(system: TroupeSystem, json: boolean, out: Output): Promise<number> {
  const live = (await system.nodes()).filter((node) => node.hosting || node.actors > 0);
  if (json) return out(`${JSON.stringify(live)}\n`), 0;
  const rows = live.map((n) => [n.node, `${n.host}:${n.pid}`, String(n.actors), n.shards.join(',') || '-', `${Math.max(0, Date.now() - n.heartbeatAt)} ms ago`]);
  out(table(['node', 'host:pid', 'actors', 'shards', 'heartbeat'], rows));
  return 0;
}

async function escrow(system: TroupeSystem, positionals: string[], values: { by?: string | undefined; reason?: string | undefined; escrow?: string | undefined; json: boolean }, out: Output): Promise<number> {
  const [action, itemId] = positionals;
  const client = system.escrow(values.escrow);
  if (action === 'list') {
    const items = await client.list();
    if (values.json) return out(`${JSON.stringify(items)}\n`), 0;
    out(table(['item', 'workflow', 'step', 'tier', 'level', 'due in'], items.map((i) => [i.id, i.workflowId, i.stepId, i.tier, String(i.level), `${Math.round((i.dueAt - Date.now()) / 1_000)} s`])));
    return 0;
  }
  if (action !== 'approve' && action !== 'reject' && action !== 'retry') throw new UsageError(`escrow needs list, approve, reject or retry\nusage: ${REMOTE_USAGE.escrow}`);
  if (!itemId) throw new UsageError(`escrow ${action} needs the item id\nusage: ${REMOTE_USAGE.escrow}`);
  if (!values.by) throw new UsageError(`escrow ${action} needs --by <your name>: decisions are recorded with who made them\nusage: ${REMOTE_USAGE.escrow}`);
  const outcome = action === 'approve' ? await client.approve(itemId, { by: values.by })
    : action === 'reject' ? await client.reject(itemId, { by: values.by, ...(values.reason === undefined ? {} : { reason: values.reason }) })
    : await client.retry(itemId, { by: values.by });
  out(values.json ? `${JSON.stringify({ itemId, outcome })}\n` : `${itemId}: ${outcome}\n`);
  return 0;
}

async function dlq(system: TroupeSystem, positionals: string[], values: { limit?: string | undefined; json: boolean }, out: Output): Promise<number> {
  const [action, seq] = positionals;
  if (action === 'list') {
    const limit = values.limit === undefined ? 100 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be an integer >= 1\nusage: ${REMOTE_USAGE.dlq}`);
    const entries = await system.deadLetters.list({ limit });
    if (values.json) return out(`${JSON.stringify(entries)}\n`), 0;
    out(table(['seq', 'address', 'event', 'reason', 'at'], entries.map((e) => [String(e.dlqSeq), e.address ?? e.subject, e.event?.type ?? '?', e.reason, new Date(e.at).toISOString()])));
    return 0;
  }
  if (action === 'replay') {
    const dlqSeq = Number(seq);
    if (!Number.isInteger(dlqSeq) || dlqSeq < 1) throw new UsageError(`dlq replay needs a dead letter's sequence (see dlq list)\nusage: ${REMOTE_USAGE.dlq}`);
    await system.deadLetters.redeliver(dlqSeq);
    out(values.json ? `${JSON.stringify({ replayed: dlqSeq })}\n` : `dead letter ${dlqSeq} sent to its actor again\n`);
    return 0;
  }
  throw new UsageError(`dlq needs list or replay\nusage: ${REMOTE_USAGE.dlq}`);
}

async function trace(system: TroupeSystem, positionals: string[], json: boolean, out: Output): Promise<number> {
  const [workflowId] = positionals;
  if (!workflowId) throw new UsageError(`trace needs a workflow id\nusage: ${REMOTE_USAGE.trace}`);
  const entries = await system.trace(workflowId);
  if (json) return out(`${JSON.stringify(entries)}\n`), 0;
  const start = entries[0]?.at ?? 0;
  out(table(['+ms', 'kind', 'step', 'attempt', 'from', 'to', 'outcome'], entries.map((e) => [String(e.at - start), e.kind, e.step || '-', String(e.attempt), e.from, e.to, e.outcome])));
  return 0;
}

/**
 * Starts a durable workflow on the system (a spawn request its shard's owner picks up), prints its steps as they
 * happen (from the durable trace) and its output; exit 0 when it completed, 1 when it aborted or timed out.
 */
async function runWorkflow(system: TroupeSystem, positionals: string[], values: { input?: string | undefined; id?: string | undefined; timeout?: string | undefined; json: boolean }, out: Output): Promise<number> {
  const [logic] = positionals;
  if (!logic) throw new UsageError(`run needs the workflow's logic name\nusage: ${REMOTE_USAGE.run}`);
  let input: unknown;
  try {
    input = values.input === undefined ? undefined : JSON.parse(values.input);
  } catch (error) {
    throw new UsageError(`--input is not JSON: ${(error as Error).message}\nusage: ${REMOTE_USAGE.run}`);
  }
  const timeoutMs = values.timeout === undefined ? 600_000 : Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new UsageError(`--timeout must be an integer >= 1 (ms)\nusage: ${REMOTE_USAGE.run}`);
  const id = values.id ?? `${logic}-${Date.now().toString(36)}`;
  const address = `${system.name}/${id}`;
  system.spawn(logic, { id, durable: true, input: { workflowId: id, address, input } });
  if (!values.json) out(`started ${address}\n`);
  let shown = 0;
  const follow = async () => {
    const entries = await system.trace(id).catch(() => []);
    for (const e of entries.slice(shown)) {
      if (!values.json && (e.kind === 'step' || e.kind === 'escrow' || e.kind === 'compensation')) {
        out(`  ${e.kind === 'step' ? '' : `${e.kind} `}${e.step} ${e.outcome}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}${e.error ? `: ${e.error.message}` : ''}\n`);
      }
    }
    shown = Math.max(shown, entries.length);
  };
  const result = system.result<{ status?: string }>(address, { timeoutMs });
  let finished = false;
  void result.finally(() => (finished = true)).catch(() => undefined);
  while (!finished) {
    await follow();
    await Promise.race([result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 250))]);
  }
  await follow();
  const output = await result;
  out(values.json ? `${JSON.stringify({ workflowId: id, output })}\n` : `${id}: ${output?.status ?? 'done'}\n${JSON.stringify(output, null, 2)}\n`);
  return output?.status === 'aborted' ? 1 : 0;
}
