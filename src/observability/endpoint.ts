/**
 * An opt-in HTTP endpoint for the operator's stack (issue 12): `/metrics` in the Prometheus text format, `/healthz`
 * (the process is up) and `/readyz` (the system runs and its transport is connected: NATS up, for Kubernetes and
 * the like). On 127.0.0.1 by default. Metrics come from the runtime's events and counters, so nothing is added to
 * an actor's message path; labels are bounded (logic names, directives, failure kinds, dead-letter categories —
 * never actor ids).
 *
 * @example
 * const endpoint = await startObservability(system, { port: 9464 });
 * // scrape http://127.0.0.1:9464/metrics; probe /healthz and /readyz
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidConfigError } from '../errors.js';
import type { TreeNode, TroupeSystem } from '../runtime/api.js';
import type { TransportStatus } from '../transport/transport.js';
import { MetricsRegistry } from './metrics.js';

export interface ObservabilityOptions {
  /** Default 0: a free port (read it from `url`). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
}

export interface ObservabilityEndpoint {
  /** `http://host:port`. */
  readonly url: string;
  /** Why `/readyz` answers 503, or undefined when ready. */
  notReadyBecause(): string | undefined;
  close(): Promise<void>;
}

/** Step outcomes that end an attempt (machines/step-reducers.ts; the others are transitions within one). */
const ATTEMPT_ENDS: ReadonlySet<string> = new Set(['succeeded', 'retrying', 'exhausted', 'failed-permanently', 'escalated', 'escrow-unreachable', 'approved', 'rejected']);

/** Dead-letter reasons carry free text (an event type, an error): these categories keep the label set bounded. */
function deadLetterCategory(reason: string): string {
  if (reason.startsWith('unhandled event type')) return 'unhandled-event';
  if (reason.startsWith('mailbox log append failed')) return 'append-failed';
  for (const known of ['no actor at this address', 'mailbox-full', 'actor stopped', 'actor stopping', 'system stopped', 'supervisors accept no messages', 'undecodable message']) {
    if (reason === known) return known.replace(/ /g, '-');
  }
  return 'other';
}

export async function startObservability(system: TroupeSystem, options: ObservabilityOptions = {}): Promise<ObservabilityEndpoint> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidConfigError('observability.port', 'must be an integer from 0 to 65,535');
  const host = options.host ?? '127.0.0.1';
  const metrics = new MetricsRegistry();
  const spawned = metrics.counter('troupe_actors_spawned_total', 'Actors spawned, by logic.');
  const stopped = metrics.counter('troupe_actors_stopped_total', 'Actors stopped, by reason.');
  const failures = metrics.counter('troupe_actor_failures_total', 'Unhandled actor failures seen by supervisors, by kind.');
  const restarts = metrics.counter('troupe_actor_restarts_total', 'Actor restarts.');
  const decisions = metrics.counter('troupe_supervisor_decisions_total', 'Supervisor decisions, by directive.');
  const deadLetters = metrics.counter('troupe_dead_letters_total', 'Dead letters, by reason category.');
  const members = metrics.counter('troupe_cluster_member_changes_total', 'Other nodes joining or leaving, by change.');
  metrics.observed('troupe_actors', 'Actors running on this node.', 'gauge', () => countActors(system.tree()));
  const stat = (pick: (s: ReturnType<TroupeSystem['durabilityStats']>) => number) => () => pick(system.durabilityStats());
  metrics.observed('troupe_durable_writes_total', 'Durable actor records written.', 'counter', stat((s) => s.snapshotWrites));
  metrics.observed('troupe_durable_write_bytes_total', 'Bytes of durable actor records written.', 'counter', stat((s) => s.snapshotBytes));
  metrics.observed('troupe_durable_deletes_total', 'Active records deleted once their actor finished.', 'counter', stat((s) => s.snapshotDeletes));
  metrics.observed('troupe_durable_log_appends_total', 'Messages appended to durable mailboxes by this node.', 'counter', stat((s) => s.logAppends));
  metrics.observed('troupe_durable_rejected_total', 'Durable deliveries rejected to the dead-letter stream.', 'counter', stat((s) => s.rejected));
  metrics.observed('troupe_durable_passivated_total', 'Idle durable actors unloaded from memory (passivation).', 'counter', stat((s) => s.passivated));
  const shardChanges = metrics.counter('troupe_cluster_shard_changes_total', 'Mailbox shard leases this node took, released or lost, by change.');
  let shardsHeld = 0;
  metrics.observed('troupe_cluster_shards_held', 'Mailbox shards whose lease this node holds.', 'gauge', () => shardsHeld);
  // From the trace (bounded labels: step ids come from workflow definitions, outcomes from Troupe's machines).
  const stepAttempts = metrics.counter('troupe_step_attempts_total', 'Step attempts that ended, by step and outcome.');
  const stepDuration = metrics.histogram('troupe_step_duration_seconds', 'Duration of step attempts that ended, by step.', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]);
  const escrowOutcomes = metrics.counter('troupe_escrow_outcomes_total', 'Escrow events (escalated, approved, rejected, retry, SLA breaches), by outcome.');
  const breakerChanges = metrics.counter('troupe_breaker_transitions_total', 'Circuit breaker transitions, by the state entered.');
  const offTrace = system.onTrace((entry) => {
    if (entry.kind === 'step' && ATTEMPT_ENDS.has(entry.outcome)) {
      stepAttempts({ step: entry.step, outcome: entry.outcome });
      if (entry.startedAt !== undefined && entry.at >= entry.startedAt) stepDuration({ step: entry.step }, (entry.at - entry.startedAt) / 1_000);
    } else if (entry.kind === 'escrow') {
      escrowOutcomes({ outcome: entry.outcome });
    } else if (entry.kind === 'breaker') {
      breakerChanges({ to: entry.to });
    }
  });

  let status: TransportStatus['type'] = 'connected';
  let running = true;
  const offStatus = system.transport.onStatus((s) => void (status = s.type));
  void system.terminated.then(() => void (running = false));
  const offEvents = system.subscribe((event) => {
    switch (event.type) {
      case 'rt.actor.spawned': return spawned({ logic: event.logic });
      case 'rt.actor.stopped': return stopped({ reason: event.reason });
      case 'rt.actor.failed': return failures({ kind: event.kind });
      case 'rt.actor.restarted': return restarts();
      case 'rt.supervisor.decision': return decisions({ directive: event.directive });
      case 'rt.deadLetter': return deadLetters({ reason: deadLetterCategory(event.reason) });
      case 'rt.cluster.member': return members({ change: event.change });
      case 'rt.cluster.shard':
        shardsHeld += event.change === 'acquired' ? 1 : -1;
        return shardChanges({ change: event.change });
      default: return undefined;
    }
  });

  const notReadyBecause = (): string | undefined => {
    if (!running) return 'the system has stopped';
    if (status === 'connected' || status === 'reconnected') return undefined;
    return `transport ${system.transport.kind} is ${status}`;
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      void metrics.render().then((text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text));
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const why = notReadyBecause();
      res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(why === undefined ? { ready: true } : { ready: false, reason: why }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    notReadyBecause,
    close: async () => {
      offEvents();
      offTrace();
      offStatus();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function countActors(node: TreeNode): number {
  if (node.kind === 'actor') return node.state === 'stopped' ? 0 : 1;
  return node.children.reduce((sum, child) => sum + countActors(child), 0);
}
