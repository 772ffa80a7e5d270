/**
 * `npm start`: a support desk on the embedded default (memory transport and store, nothing installed).
 * Part 1, supervision: a `triage` supervisor runs three workers; the enricher calls a flaky CRM and crashes on
 * one ticket; its supervisor restarts it and the tickets that arrived meanwhile reach the new incarnation.
 * Part 2, resilient workflows (examples/support-workflow.ts): ticket-42's CRM lookup is retried with backoff,
 * its unsure sentiment is escalated to a person (approved here, as the inspector would), and it completes;
 * ticket-43's email bounces, a critical failure, so the saga compensates in reverse order and aborts.
 * Ends with a summary and exits 0.
 */
import pretty from 'pino-pretty';
import { assign, setup } from 'xstate';
import { reply, tellTo } from '../machines/emit.js';
import { createSystem, type RuntimeEvent } from '../src/index.js';
import { createSupportScenario } from './support-workflow.js';

type Ticket = { type: 'ticket'; id: number; text: string };

/** Classifies a ticket and passes it on to the enricher. */
const classifier = setup({ types: { context: {} as { seen: number }, events: {} as Ticket | { type: 'stats' } } }).createMachine({
  context: { seen: 0 },
  on: {
    ticket: {
      actions: [
        assign({ seen: ({ context }) => context.seen + 1 }),
        tellTo('support/triage/enricher', ({ event }) => ({ ...event, topic: /refund|charge/i.test(event.text) ? 'billing' : 'general' })),
      ],
    },
    stats: { actions: reply(({ context }) => ({ seen: context.seen })) },
  },
});

/** Looks the customer up in the CRM; the CRM throws on ticket 3 (an unhandled failure: the supervisor's business). */
const enricher = setup({
  types: { context: {} as { enriched: number[] }, events: {} as (Ticket & { topic: string }) | { type: 'stats' } },
  actions: {
    callCrm: ({ event }) => {
      if (event.type === 'ticket' && event.id === 3) throw new Error(`CRM returned 500 for ticket ${event.id}`);
    },
  },
}).createMachine({
  context: { enriched: [] },
  on: {
    ticket: {
      actions: ['callCrm', assign({ enriched: ({ context, event }) => [...context.enriched, event.id] }), tellTo('support/triage/router', ({ event }) => event)],
    },
    stats: { actions: reply(({ context }) => ({ enriched: context.enriched })) },
  },
});

/** Routes enriched tickets to a queue. */
const router = setup({ types: { context: {} as { routed: Record<string, number[]> }, events: {} as (Ticket & { topic: string }) | { type: 'stats' } } }).createMachine({
  context: { routed: {} },
  on: {
    ticket: { actions: assign({ routed: ({ context, event }) => ({ ...context.routed, [event.topic]: [...(context.routed[event.topic] ?? []), event.id] }) }) },
    stats: { actions: reply(({ context }) => context.routed) },
  },
});

function describe(event: RuntimeEvent): string | undefined {
  switch (event.type) {
    case 'rt.actor.spawned':
      return `spawned ${event.address} (${event.logic})`;
    case 'rt.actor.restarted':
      return `restarted ${event.address} (incarnation ${event.incarnation}; ${event.redelivered} held message(s) delivered)`;
    // Failures, supervisor decisions and dead letters are logged by the runtime itself.
    default:
      return undefined;
  }
}

async function main(): Promise<void> {
  const log = pretty({ colorize: process.stdout.isTTY, ignore: 'pid,hostname', translateTime: 'HH:MM:ss.l', sync: true });
  const system = await createSystem({ name: 'support', logLevel: 'info', logDestination: log, supervision: { backoff: { minMs: 50 } } });
  system.subscribe((event) => {
    const line = describe(event);
    if (line) {
      log.write(`${JSON.stringify({ level: 30, time: Date.now(), systemId: 'support', msg: `event: ${line}` })}\n`);
    }
  });

  system.register('classifier', classifier);
  system.register('enricher', enricher);
  system.register('router', router);
  const triage = system.supervisor('triage', { strategy: 'one-for-one', intensity: 3, periodMs: 5_000 });
  const classify = system.spawn<typeof classifier>('classifier', { id: 'classifier', parent: triage });
  const enrich = system.spawn<typeof enricher>('enricher', { id: 'enricher', parent: triage, restart: 'permanent' });
  const route = system.spawn<typeof router>('router', { id: 'router', parent: triage });

  const texts = ['Where is my order?', 'Refund for a double charge', 'Password reset', 'Charge on a closed account', 'Change my address', 'Refund please'];
  texts.forEach((text, i) => classify.tell({ type: 'ticket', id: i + 1, text }));

  // Wait (bounded) until every ticket but the one that crashed the enricher has been routed.
  const expected = texts.length - 1;
  let routed: Record<string, number[]> = {};
  for (let i = 0; i < 100; i++) {
    routed = await route.ask<Record<string, number[]>>({ type: 'stats' });
    if (Object.values(routed).flat().length >= expected) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const classified = await classify.ask<{ seen: number }>({ type: 'stats' });
  const enriched = await enrich.ask<{ enriched: number[] }>({ type: 'stats' });
  await system.shutdown();

  const summary = [
    '',
    'Summary',
    `  tickets classified:            ${classified.seen}`,
    `  enriched by the new enricher:  ${enriched.enriched.join(', ')} (ticket 3 crashed the old one and was dead-lettered)`,
    `  routed:                        ${Object.entries(routed).map(([topic, ids]) => `${topic} [${ids.join(', ')}]`).join(', ')}`,
    `  restarts by triage:            ${triage.restarts}`,
    `  dead letters:                  ${system.deadLetters.count()} (${system.deadLetters.recent().map((d) => d.reason).join(', ')})`,
    '',
  ];
  process.stdout.write(summary.join('\n') + '\n');
  if (Object.values(routed).flat().length !== expected || triage.restarts !== 1) {
    process.stderr.write('demo: unexpected outcome\n');
    process.exitCode = 1;
  }
}

interface TraceLine {
  readonly step?: string;
  readonly kind?: string;
  readonly outcome?: string;
  readonly attempt?: number;
  readonly delayMs?: number;
}

/** Part 2: two workflow runs; a person (this demo) approves the escalated one. */
async function workflows(): Promise<string[]> {
  const scenario = await createSupportScenario({ latencyMs: 40 });
  const { system } = scenario;
  const runs = scenario.startDemoTickets();
  const ends = new Map<string, string>();
  for (const address of [runs.completes, runs.compensates]) {
    system.lookup(address).subscribe((s) => {
      const snapshot = s as { status?: string; output?: { status?: string } };
      if (snapshot.status === 'done') ends.set(address, snapshot.output?.status ?? 'done');
    });
  }
  const approved: string[] = [];
  for (let i = 0; i < 300 && ends.size < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    const items = (system.lookup(scenario.escrow).getSnapshot() as { context?: { items?: Record<string, { stepId?: string }> } } | undefined)?.context?.items ?? {};
    for (const [itemId, item] of Object.entries(items)) {
      if (approved.includes(itemId)) continue;
      approved.push(itemId);
      system.lookup(scenario.escrow).tell({ type: 'escrow.approve', itemId, by: 'demo operator' });
      process.stdout.write(`a person approved escrow item ${itemId} (step ${item.stepId ?? '?'})\n`);
    }
  }
  const lines: string[] = [];
  for (const [address, id] of [[runs.completes, 'ticket-42'], [runs.compensates, 'ticket-43']] as const) {
    const trace = (await system.trace(id)) as unknown as TraceLine[];
    const retries = trace.filter((e) => e.outcome === 'retrying').length;
    const escalations = trace.filter((e) => e.outcome === 'escalated').length;
    const compensated = trace.filter((e) => e.kind === 'compensation' && e.outcome === 'succeeded').map((e) => e.step);
    lines.push(
      `  ${id}: ${ends.get(address) ?? 'still running'} — ${trace.length} trace entries, ${retries} retries, ${escalations} escalation(s)` +
        (compensated.length > 0 ? `, compensated ${compensated.join(' then ')}` : ''),
    );
  }
  await system.shutdown();
  if (ends.get(runs.completes) !== 'completed' || ends.get(runs.compensates) !== 'aborted') {
    process.stderr.write('demo: workflows did not end as expected\n');
    process.exitCode = 1;
  }
  return lines;
}

main()
  .then(async () => {
    if (process.exitCode) return;
    const lines = await workflows();
    process.stdout.write(['', 'Workflows (retry, escalate to a person, compensate)', ...lines, ''].join('\n') + '\n');
  })
  .catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
