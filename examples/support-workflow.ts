/**
 * The inspector's demo scenario (issue 5): a support desk answering tickets with the `customer-reply`
 * workflow, built from `troupe/machines`, on the embedded default. What it shows:
 * - retry: the CRM is flaky, so `history` fails with a retryable error and is retried after backoff;
 * - escalation: `sentiment` is unsure (confidence below 0.85), so a person decides in the escrow queue;
 * - compensation: for one ticket the mail server rejects the address, a critical failure, so the saga undoes
 *   the draft and the refund hold in reverse order and the workflow ends `aborted`.
 * A shared circuit breaker guards the CRM. `troupe inspect` runs this with the inspector attached.
 *
 * Run alone: `node dist/examples/support-workflow.js` (starts the tickets and prints how they end).
 */
import { pathToFileURL } from 'node:url';
import { circuitBreaker, escrow, parallel, step, workflow, type AttemptArgs } from '../machines/index.js';
import { createSystem, NonRetryableError, RetryableError, type ActorRef, type TroupeSystem } from '../src/index.js';

export interface TicketInput {
  readonly customer: string;
  readonly text: string;
  /** How many CRM calls fail before one succeeds. */
  readonly crmFailures: number;
  /** The sentiment model's confidence (below 0.85 escalates to a person). */
  readonly confidence: number;
  /** The mail server rejects the address: a critical failure, compensated. */
  readonly badAddress: boolean;
}

export interface SupportScenarioOptions {
  /** Base latency of each simulated call, ms (the retry backoff starts at twice this). Default 250. */
  readonly latencyMs?: number;
  /** Escrow SLA per tier, ms. Default: 5 minutes customer-facing, 30 minutes internal. */
  readonly slaMs?: Readonly<Record<string, number>>;
  readonly logLevel?: 'silent' | 'info' | 'warn' | 'error';
}

export interface SupportScenario {
  readonly system: TroupeSystem;
  readonly escrow: string;
  readonly breaker: string;
  /** Starts one ticket's workflow run at `support/tickets/<id>`. */
  startTicket(id: string, input: TicketInput): ActorRef;
  /** The two demo tickets: ticket-42 (retried, escalated, completes once approved) and ticket-43 (compensated). */
  startDemoTickets(): { readonly completes: string; readonly compensates: string };
}

export const DEMO_TICKETS: Readonly<Record<string, TicketInput>> = Object.freeze({
  'ticket-42': { customer: 'ana@example.com', text: 'I was charged twice for my order', crmFailures: 2, confidence: 0.62, badAddress: false },
  'ticket-43': { customer: 'bob@invalid', text: 'Where is my parcel?', crmFailures: 1, confidence: 0.97, badAddress: true },
});

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    }, { once: true });
  });
}

/** The workflow definition: every failure path is a state the inspector can show. */
export function customerReply(latencyMs: number) {
  type Args = AttemptArgs<TicketInput>;
  const call = (args: Args, factor = 1) => pause(latencyMs * factor, args.signal);
  return workflow<TicketInput>('customer-reply', {
    steps: [
      step('history', async (a: Args) => {
        await call(a);
        if (a.attempt <= a.input.crmFailures) throw new RetryableError(`CRM timed out (503) on attempt ${a.attempt}`, { type: 'CrmUnavailable' });
        return { customer: a.input.customer, orders: 3, lastContact: '2 days ago' };
      }, { breaker: 'support/services/breaker-crm', retry: { initialInterval: latencyMs * 2, backoffCoefficient: 2, maximumAttempts: 4 } }),
      parallel([
        step('sentiment', async (a: Args) => {
          await call(a);
          return { label: /charged twice|refund/i.test(a.input.text) ? 'angry' : 'neutral', confidence: a.input.confidence };
        }, { minConfidence: 0.85, escalation: { tier: 'customer-facing' } }),
        step('inventory', async (a: Args) => {
          await call(a, 0.5);
          return { inStock: true };
        }),
      ], { id: 'assess' }),
      step('hold-refund', async (a: Args) => {
        await call(a, 0.5);
        return { holdId: `hold-${a.workflowId}` };
      }, { compensate: async (a) => ({ released: (a.output as { holdId?: string } | undefined)?.holdId }) }),
      step('draft', async (a: Args) => {
        await call(a);
        return { text: `Dear customer, about "${a.input.text}": we are on it and have put a refund on hold.` };
      }, {
        verify: ({ output }) => ({ ok: !/!!!/.test(JSON.stringify(output)), reason: 'brand guidelines' }),
        compensate: async () => ({ discarded: true }),
      }),
      step('send', async (a: Args) => {
        await call(a);
        if (a.input.badAddress) throw new NonRetryableError(`mail server rejected ${a.input.customer}`, { type: 'InvalidAddress' });
        return { messageId: `msg-${a.workflowId}` };
      }, { critical: true, compensate: async () => ({ recalled: true }) }),
    ],
  });
}

/** Creates the support system with its shared services and the workflow registered (no ticket started yet). */
export async function createSupportScenario(options: SupportScenarioOptions = {}): Promise<SupportScenario> {
  const latencyMs = options.latencyMs ?? 250;
  const system = await createSystem({ name: 'support', logLevel: options.logLevel ?? 'silent', supervision: { backoff: { minMs: 50 } } });
  system.register('breaker', circuitBreaker, { version: 1 });
  system.register('escrow', escrow, { version: 1 });
  system.register('customer-reply', customerReply(latencyMs), { version: 1 });
  const services = system.supervisor('services', { strategy: 'one-for-one' });
  const tickets = system.supervisor('tickets', { strategy: 'one-for-one' });
  system.spawn('breaker', { id: 'breaker-crm', parent: services, input: { target: 'crm', failureThreshold: 5, windowMs: 60_000, cooldownMs: 10_000 }, restart: 'permanent' });
  system.spawn('escrow', { id: 'escrow', parent: services, input: { slaMs: options.slaMs }, restart: 'permanent' });
  const escrowAddress = 'support/services/escrow';
  const startTicket = (id: string, input: TicketInput): ActorRef =>
    system.spawn('customer-reply', { id, parent: tickets, input: { workflowId: id, address: `support/tickets/${id}`, escrow: escrowAddress, input } });
  return {
    system,
    escrow: escrowAddress,
    breaker: 'support/services/breaker-crm',
    startTicket,
    startDemoTickets: () => {
      for (const [id, input] of Object.entries(DEMO_TICKETS)) startTicket(id, input);
      return { completes: 'support/tickets/ticket-42', compensates: 'support/tickets/ticket-43' };
    },
  };
}

async function main(): Promise<void> {
  const scenario = await createSupportScenario({ latencyMs: 100 });
  const { system } = scenario;
  const ends = new Map<string, string>();
  const runs = scenario.startDemoTickets();
  for (const address of [runs.completes, runs.compensates]) {
    system.lookup(address).subscribe((s) => {
      const snapshot = s as { status?: string; output?: { status?: string } };
      if (snapshot.status === 'done') ends.set(address, snapshot.output?.status ?? 'done');
    });
  }
  // ticket-42 waits for a person: approve it as the inspector would.
  for (let i = 0; i < 200 && ends.size < 2; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    const items = (system.lookup(scenario.escrow).getSnapshot() as { context?: { items?: Record<string, unknown> } } | undefined)?.context?.items ?? {};
    for (const itemId of Object.keys(items)) system.lookup(scenario.escrow).tell({ type: 'escrow.approve', itemId, by: 'demo' });
  }
  for (const [address, status] of ends) process.stdout.write(`${address}: ${status}\n`);
  for (const id of Object.keys(DEMO_TICKETS)) {
    const trace = (await system.trace(id)) as unknown as Array<{ step?: string; outcome?: string }>;
    process.stdout.write(`  ${id}: ${trace.map((e) => `${e.step || 'workflow'}:${e.outcome}`).join(' ')}\n`);
  }
  await system.shutdown();
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
