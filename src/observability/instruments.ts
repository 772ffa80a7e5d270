/**
 * Troupe's metrics as OpenTelemetry instruments (issue 12), on any `Meter`: the application's (its SDK exports them
 * wherever it sends metrics) or the opt-in endpoint's own, read by its Prometheus exporter (endpoint.ts).
 *
 * Nothing here runs on an actor's message path. Counters follow the runtime's events and the trace; everything
 * else — mailbox depths, messages handled per logic, the durable counters, breaker states, escrow items — is
 * read when the meter collects (`system.runtimeStats()`, `system.durabilityStats()`). Names and units follow OTel
 * conventions (dotted names, base units: `s`, `By`); label sets are bounded: logic names, directives, failure
 * kinds, dead-letter categories, step ids, breaker targets, escrow tiers and levels — never actor ids.
 */
import { metrics, type Attributes, type Meter, type MeterProvider } from '@opentelemetry/api';
import type { InspectionStats } from '../inspection/bus.js';
import type { TroupeSystem } from '../runtime/api.js';

/** Step outcomes that end an attempt (machines/step-reducers.ts; the others are transitions within one). */
const ATTEMPT_ENDS: ReadonlySet<string> = new Set(['succeeded', 'retrying', 'exhausted', 'failed-permanently', 'escalated', 'escrow-unreachable', 'approved', 'rejected']);

/** Latency buckets, seconds: from a local write (ms) to a model call (minutes). */
const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Dead-letter reasons carry free text (an event type, an error): these categories keep the label set bounded. */
export function deadLetterCategory(reason: string): string {
  if (reason.startsWith('unhandled event type')) return 'unhandled-event';
  if (reason.startsWith('mailbox log append failed')) return 'append-failed';
  for (const known of ['no actor at this address', 'mailbox-full', 'actor stopped', 'actor stopping', 'system stopped', 'supervisors accept no messages', 'undecodable message']) {
    if (reason === known) return known.replace(/ /g, '-');
  }
  return 'other';
}

export interface InstrumentOptions {
  /** Inspection buses to report on (records produced and lost): an inspector's `bus`, for instance. */
  readonly inspection?: readonly { stats(): InspectionStats }[];
}

/** Creates the instruments on `meter` and feeds them from `system`; returns the switch-off. */
export function instrumentSystem(system: TroupeSystem, meter: Meter, options: InstrumentOptions = {}): () => void {
  const counter = (name: string, description: string, unit?: string) => meter.createCounter(name, { description, ...(unit ? { unit } : {}) });
  const spawned = counter('troupe.actors.spawned', 'Actors spawned, by logic.');
  const stopped = counter('troupe.actors.stopped', 'Actors stopped, by reason.');
  const failures = counter('troupe.actor.failures', 'Unhandled actor failures seen by supervisors, by kind.');
  const restarts = counter('troupe.actor.restarts', 'Actor restarts.');
  const decisions = counter('troupe.supervisor.decisions', 'Supervisor decisions, by directive.');
  const deadLetters = counter('troupe.dead_letters', 'Dead letters, by reason category.');
  const drops = counter('troupe.mailbox.drops', 'Messages refused because a mailbox was full.');
  const members = counter('troupe.cluster.member_changes', 'Other nodes joining or leaving, by change.');
  const shardChanges = counter('troupe.cluster.shard_changes', 'Mailbox shard leases this node took, released or lost, by change.');
  const escrowOutcomes = counter('troupe.escrow.outcomes', 'Escrow events (queued, approved, rejected, retry, SLA breaches), by outcome.');
  const slaBreaches = counter('troupe.escrow.sla_breaches', 'Escrow items whose SLA passed before a person decided.');
  const histogram = (name: string, description: string) => meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: SECONDS } });
  const stepDuration = histogram('troupe.step.duration', 'Duration of step attempts that ended, by step.');
  const poolWait = histogram('troupe.pool.wait', 'Time a step attempt waited for the pools it uses, by step.');
  const writeDuration = histogram('troupe.durable.write.duration', 'Time the store took to write a durable record.');

  let shardsHeld = 0;
  const attempts = new Map<string, { readonly labels: Attributes; count: number }>();
  const offTrace = system.onTrace((entry) => {
    if (entry.kind === 'step' || entry.kind === 'compensation') {
      if (entry.from === 'waiting' && entry.to !== 'waiting' && entry.startedAt !== undefined) poolWait.record((entry.at - entry.startedAt) / 1_000, { step: entry.step });
      if (entry.kind !== 'step' || !ATTEMPT_ENDS.has(entry.outcome)) return;
      const key = `${entry.step}\0${entry.outcome}`; // counted here, reported at collection: the SDK hashes labels per add
      const seen = attempts.get(key);
      if (seen === undefined) attempts.set(key, { labels: { step: entry.step, outcome: entry.outcome }, count: 1 });
      else seen.count++;
      if (entry.startedAt !== undefined && entry.at >= entry.startedAt) stepDuration.record((entry.at - entry.startedAt) / 1_000, { step: entry.step });
    } else if (entry.kind === 'escrow') {
      escrowOutcomes.add(1, { outcome: entry.outcome });
      if (/breach/.test(entry.outcome)) slaBreaches.add(1);
    }
  });
  const offWrites = system.onDurableWrite((write) => writeDuration.record(write.ms / 1_000));
  const offEvents = system.subscribe((event) => {
    switch (event.type) {
      case 'rt.actor.spawned': return spawned.add(1, { logic: event.logic });
      case 'rt.actor.stopped': return stopped.add(1, { reason: event.reason });
      case 'rt.actor.failed': return failures.add(1, { kind: event.kind });
      case 'rt.actor.restarted': return restarts.add(1);
      case 'rt.supervisor.decision': return decisions.add(1, { directive: event.directive });
      case 'rt.deadLetter': {
        const reason = deadLetterCategory(event.reason);
        if (reason === 'mailbox-full') drops.add(1); // `event.count` is the running total, not this letter's
        return deadLetters.add(1, { reason });
      }
      case 'rt.cluster.member': return members.add(1, { change: event.change });
      case 'rt.cluster.shard':
        shardsHeld += event.change === 'acquired' ? 1 : -1;
        return shardChanges.add(1, { change: event.change });
      default: return undefined;
    }
  });

  // Read at collection, all from one reading of the runtime's counters.
  const gauge = (name: string, description: string, unit?: string) => meter.createObservableGauge(name, { description, ...(unit ? { unit } : {}) });
  const total = (name: string, description: string, unit?: string) => meter.createObservableCounter(name, { description, ...(unit ? { unit } : {}) });
  const actors = gauge('troupe.actors', 'Actors running on this node.');
  const depth = gauge('troupe.mailbox.depth', 'Messages waiting in the mailboxes of this node.');
  const deepest = gauge('troupe.mailbox.depth.max', 'The longest mailbox on this node.');
  const handled = total('troupe.messages.handled', 'Messages handled on this node, by logic.');
  const rpcDropped = total('troupe.rpc.dropped', 'Messages between nodes (rpc subjects) dropped on this node as garbage or undeliverable.');
  const stepAttempts = total('troupe.step.attempts', 'Step attempts that ended, by step and outcome.');
  const loaded = gauge('troupe.durable.loaded', 'Durable actors in memory on this node.');
  const shards = gauge('troupe.cluster.shards.held', 'Mailbox shards whose lease this node holds.');
  const breakers = gauge('troupe.breaker.state', 'Circuit breaker state per target: 0 closed, 1 half-open, 2 open.');
  const escrowItems = gauge('troupe.escrow.items', "Items waiting for a person in this node's escrows, by tier and level.");
  const durable = {
    snapshotWrites: total('troupe.durable.writes', 'Durable actor records written.'),
    snapshotBytes: total('troupe.durable.write.size', 'Bytes of durable actor records written.', 'By'),
    snapshotDeletes: total('troupe.durable.deletes', 'Active records deleted once their actor finished.'),
    logAppends: total('troupe.durable.log.appends', 'Messages appended to durable mailboxes by this node.'),
    rejected: total('troupe.durable.rejected', 'Durable deliveries rejected to the dead-letter stream.'),
    passivated: total('troupe.durable.passivated', 'Idle durable actors unloaded from memory (passivation).'),
    redeliveries: total('troupe.durable.redeliveries', 'Deliveries the mailbox log handed this node more than once.'),
    acked: total('troupe.durable.acked', 'Durable messages acked after their effect was stored (over writes: the coalescing).'),
  } as const;
  const inspection = options.inspection ?? [];
  const inspected = inspection.length > 0 ? total('troupe.inspection.records', 'Inspection records produced, and lost to a full backlog, by state.') : undefined;
  const gauges = { 'troupe.breaker.state': breakers, 'troupe.escrow.items': escrowItems } as const;

  const observables = [actors, depth, deepest, handled, rpcDropped, loaded, stepAttempts, shards, breakers, escrowItems, ...Object.values(durable), ...(inspected ? [inspected] : [])];
  const collect = (result: { observe(o: (typeof observables)[number], value: number, attributes?: Attributes): void }): void => {
    const stats = system.runtimeStats();
    result.observe(actors, stats.actors);
    result.observe(depth, stats.queued);
    result.observe(deepest, stats.deepestMailbox);
    result.observe(rpcDropped, stats.rpcDropped);
    for (const [logic, count] of Object.entries(stats.handledByLogic)) result.observe(handled, count, { logic });
    for (const { labels, count } of attempts.values()) result.observe(stepAttempts, count, labels);
    result.observe(shards, shardsHeld);
    for (const reading of stats.gauges) {
      const instrument = gauges[reading.name as keyof typeof gauges];
      if (instrument !== undefined) result.observe(instrument, reading.value, reading.labels);
    }
    const d = system.durabilityStats();
    for (const [key, instrument] of Object.entries(durable)) result.observe(instrument, d[key as keyof typeof durable]);
    result.observe(loaded, d.loaded);
    if (inspected) {
      let produced = 0;
      let lost = 0;
      for (const bus of inspection) {
        const s = bus.stats();
        produced += s.produced;
        lost += s.lost;
      }
      result.observe(inspected, produced, { state: 'produced' });
      result.observe(inspected, lost, { state: 'lost' });
    }
  };
  meter.addBatchObservableCallback(collect, observables);

  return () => {
    meter.removeBatchObservableCallback(collect, observables);
    offEvents();
    offTrace();
    offWrites();
  };
}

/**
 * Troupe's metrics on an application's MeterProvider (default: the global one). A system created after the
 * application registered its provider globally is instrumented already (`telemetry`, default true); this is for a
 * provider registered later, or one that is not global. Returns the switch-off.
 * @example
 * const off = instrumentMetrics(system, { meterProvider }); // e.g. an SDK MeterProvider with an OTLP exporter
 */
export function instrumentMetrics(system: TroupeSystem, options: InstrumentOptions & { readonly meterProvider?: MeterProvider } = {}): () => void {
  const provider = options.meterProvider ?? metrics.getMeterProvider();
  return instrumentSystem(system, provider.getMeter('troupe'), options);
}
