/**
 * `npm start`: the customer-reply demo on the embedded default (in memory; nothing to install, no network). A
 * support desk answers a batch of seven tickets with the six-step `customer-reply` workflow (workflow.ts), against
 * a real local HTTP API (the CRM), a real SQLite database (the inventory) and a model (the deterministic local one
 * unless TROUPE_LLM_PROVIDER names a provider). Injected faults show each failure path: a CRM timeout (retried), a
 * provider outage (the breaker opens, the template fallback answers), a malformed ticket (aborted with its cause), an
 * unsure draft (a person approves it in the escrow), a draft that breaks a brand guideline (re-drafted, then the
 * saga gives the reserved voucher back). Prints a summary table and exits 0 when every ticket ended as expected.
 *
 * `npm start -- --inspect` keeps the system running with the inspector attached and prints its URL.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { circuitBreaker, escrow, traceUsage } from '../../machines/index.js';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { table } from '../../cli/table.js';
import { startCrm } from './crm-server.js';
import { CATALOG, openInventory } from './inventory.js';
import { demoModels } from './models.js';
import { CUSTOMERS, DEMO_BATCH, OUTAGE_TICKETS, SLOW_CRM_CUSTOMERS, type DemoTicket } from './tickets.js';
import { customerReply, ESCALATE_BELOW } from './workflow.js';

export interface TicketSummary {
  readonly ticket: string;
  readonly scenario: string;
  readonly expected: DemoTicket['expect'];
  /** What happened, in the same terms as `expected`. */
  readonly outcome: DemoTicket['expect'] | 'unexpected';
  readonly status: 'completed' | 'aborted';
  readonly retries: number;
  readonly escalatedTo?: string;
  readonly decidedBy?: string;
  readonly compensated: readonly string[];
  readonly cause?: string;
  readonly reply?: string;
  /** Model tokens the ticket's attempts paid for (the provider's count; the local model's are estimates). */
  readonly tokens: { readonly inputTokens: number; readonly outputTokens: number };
  /** Drafting-model requests: served by the model, refused by the outage. */
  readonly modelCalls: { readonly served: number; readonly refused: number };
}

export interface DemoResult {
  readonly model: string;
  readonly tickets: readonly TicketSummary[];
  readonly stockBefore: Readonly<Record<string, number>>;
  readonly stockAfter: Readonly<Record<string, number>>;
  readonly reservations: ReadonlyArray<{ ticket: string; sku: string }>;
  readonly sent: readonly string[];
  readonly crmRequests: Readonly<Record<string, number>>;
  readonly breakerOpened: boolean;
}

export interface DemoOptions {
  /** Progress lines as they happen (default: none). */
  readonly log?: (line: string) => void;
  /** Called once the services run, before the first ticket (to attach the inspector, say). */
  readonly onStart?: (system: TroupeSystem) => Promise<void>;
  /** Leave the system running (the caller shuts it down) instead of shutting it down at the end. */
  readonly keep?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

const PERSON = 'Dana (support lead)';
const ESCROW = 'support/services/escrow';
const BREAKER = 'support/services/breaker-llm';

interface Entry { readonly step?: string; readonly kind?: string; readonly outcome?: string; readonly to?: string; readonly detail?: Record<string, unknown>; readonly error?: { message?: string } }

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const log = options.log ?? (() => {});
  const crm = await startCrm(CUSTOMERS, { slowOnce: SLOW_CRM_CUSTOMERS, slowMs: 3_000 });
  const inventory = openInventory();
  const outage = new Set(OUTAGE_TICKETS);
  const models = demoModels({ outage, ...(options.env ? { env: options.env } : {}) });
  const stockBefore = Object.fromEntries(CATALOG.map((p) => [p.sku, inventory.stock(p.sku)]));
  const system = await createSystem({ name: 'support', logLevel: 'silent' });
  let breakerOpened = false;
  try {
    system.register('breaker', circuitBreaker, { version: 1 });
    system.register('escrow', escrow, { version: 1 });
    system.register('customer-reply', customerReply({ crmUrl: crm.url, inventory, models, breaker: BREAKER, escrow: ESCROW, retryMs: 100, crmTimeoutMs: 500 }), { version: 1 });
    const services = system.supervisor('services', { strategy: 'one-for-one' });
    const tickets = system.supervisor('tickets', { strategy: 'one-for-one' });
    system.spawn('breaker', { id: 'breaker-llm', parent: services, restart: 'permanent', input: { target: 'drafting model', failureThreshold: 2, windowMs: 60_000, cooldownMs: 30_000 } });
    system.spawn('escrow', { id: 'escrow', parent: services, restart: 'permanent', input: {} });

    await options.onStart?.(system);
    system.onTrace((e) => {
      const entry = e as unknown as Entry & { workflowId: string; attempt?: number };
      const where = `${entry.workflowId} ${entry.step ?? ''}`.trim();
      if (entry.outcome === 'retrying') log(`${where}: attempt ${entry.attempt} failed (${entry.error?.message ?? 'error'}); retrying`);
      else if (entry.outcome === 'breaker-open') {
        breakerOpened = true;
        log(`${where}: the provider's breaker is open; the template fallback answers, no model call`);
      } else if (entry.kind === 'step' && entry.outcome === 'escalated') log(`${where}: escalated to a person (confidence below ${ESCALATE_BELOW})`);
      else if (entry.kind === 'escrow' && entry.outcome === 'approved') log(`${where}: ${String(entry.detail?.['by'])} approved it`);
      else if (entry.kind === 'compensation' && entry.outcome === 'succeeded') log(`${where}: compensated (the reserved offer went back to the inventory)`);
      else if (entry.kind === 'workflow' && (entry.to === 'completed' || entry.to === 'aborted')) log(`${entry.workflowId}: ${entry.to}${entry.to === 'aborted' && entry.error?.message ? ` (${entry.error.message})` : ''}`);
    });

    // The person at the escrow: reads each item and approves it (a real one would edit the reply in the inspector).
    const decided = new Map<string, string>();
    let watching = true;
    const person = (async () => {
      while (watching) {
        for (const item of await system.escrow(ESCROW).list().catch(() => [])) {
          if (decided.has(item.id)) continue;
          decided.set(item.id, item.workflowId);
          await system.escrow(ESCROW).approve(item.id, { by: PERSON });
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })();

    // Two waves: the provider outage comes after the first five tickets, so only the tickets it hits take the fallback.
    const ended = new Map<string, { status: 'completed' | 'aborted'; output?: unknown; error?: unknown }>();
    const run = (ids: readonly string[]) => Promise.all(ids.map(async (id) => {
      const ref = system.spawn('customer-reply', { id, parent: tickets, input: DEMO_BATCH[id]!.input });
      try {
        ended.set(id, { status: 'completed', output: await ref.result({ timeoutMs: 30_000 }) });
      } catch (error) {
        ended.set(id, { status: 'aborted', error });
      }
    }));
    const ids = Object.keys(DEMO_BATCH);
    await run(ids.filter((id) => !outage.has(id)));
    await run(ids.filter((id) => outage.has(id)));
    watching = false;
    await person;

    const summaries: TicketSummary[] = [];
    for (const id of ids) {
      const demo = DEMO_BATCH[id]!;
      const trace = (await system.trace(id)) as unknown as Entry[];
      const end = ended.get(id)!;
      const results = (end.output as { results?: Record<string, unknown> } | undefined)?.results ?? {};
      const draft = results['draft'] as { via?: string } | undefined;
      const escalation = trace.find((e) => e.outcome === 'escalated');
      const decision = trace.find((e) => e.kind === 'escrow' && (e.outcome === 'approved' || e.outcome === 'rejected'));
      const compensated = trace.filter((e) => e.kind === 'compensation' && e.outcome === 'succeeded').map((e) => e.step ?? '');
      const cause = end.status === 'aborted' ? String((end.error as Error).message ?? end.error) : undefined;
      const outcome: TicketSummary['outcome'] =
        end.status === 'aborted' ? (compensated.length > 0 ? 'compensated' : /malformed ticket/.test(cause ?? '') ? 'malformed' : 'unexpected')
        : draft?.via === 'fallback-template' ? 'fallback'
        : decision?.outcome === 'approved' ? 'approved'
        : 'completed';
      summaries.push({
        ticket: id, scenario: demo.scenario, expected: demo.expect, outcome, status: end.status,
        retries: trace.filter((e) => e.outcome === 'retrying').length,
        ...(escalation ? { escalatedTo: 'escrow (customer-facing)' } : {}),
        ...(typeof decision?.detail?.['by'] === 'string' ? { decidedBy: decision.detail['by'] } : {}),
        compensated,
        ...(cause === undefined ? {} : { cause }),
        ...(typeof (results['route'] as { reply?: unknown } | undefined)?.reply === 'string' ? { reply: (results['route'] as { reply: string }).reply } : {}),
        modelCalls: models.drafterCalls.get(id) ?? { served: 0, refused: 0 },
        tokens: traceUsage(trace as never).total,
      });
    }
    const result: DemoResult = {
      model: models.label,
      tickets: summaries,
      stockBefore,
      stockAfter: Object.fromEntries(CATALOG.map((p) => [p.sku, inventory.stock(p.sku)])),
      reservations: inventory.reservations(),
      sent: inventory.sent().map((s) => s.ticket),
      crmRequests: Object.fromEntries(crm.requests),
      breakerOpened,
    };
    return result;
  } finally {
    if (!options.keep) {
      await system.shutdown();
      inventory.close();
    }
    await crm.close();
  }
}

/** The summary as a table: one row per ticket, then the inventory and the model. */
export function summaryTable(result: DemoResult): string {
  const rows = result.tickets.map((t) => [
    t.ticket, t.scenario, t.status === 'completed' ? 'completed' : 'aborted',
    [t.retries > 0 ? `${t.retries} retr${t.retries === 1 ? 'y' : 'ies'}` : '', t.outcome === 'fallback' ? 'fallback (breaker open)' : '', t.decidedBy ? `approved by ${t.decidedBy}` : '', t.compensated.length > 0 ? `compensated ${t.compensated.join(', ')}` : '', t.outcome === 'malformed' ? 'rejected at intake' : ''].filter(Boolean).join('; ') || 'straight through',
    `${t.modelCalls.served}/${t.modelCalls.refused}`,
    `${t.tokens.inputTokens}/${t.tokens.outputTokens}`,
    t.outcome === t.expected ? 'ok' : `EXPECTED ${t.expected}`,
  ]);
  const stock = Object.keys(result.stockBefore).map((sku) => `${sku} ${result.stockBefore[sku]} -> ${result.stockAfter[sku]}`).join(', ');
  return [
    table(['ticket', 'scenario', 'status', 'path', 'model calls ok/503', 'tokens in/out', 'check'], rows),
    `inventory (SQLite): ${stock}; reservations held: ${result.reservations.map((r) => `${r.ticket}:${r.sku}`).join(', ') || 'none'}`,
    `replies sent: ${result.sent.join(', ')}`,
    `drafting model: ${result.model}; escalation below confidence ${ESCALATE_BELOW}`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { inspect: { type: 'boolean', default: false }, port: { type: 'string', default: '0' } } });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out('customer-reply demo: 7 tickets, 6 steps each, on the embedded default\n');
  let inspected: { system: TroupeSystem; close(): Promise<void> } | undefined;
  const onStart = async (system: TroupeSystem) => {
    const { startInspector } = await import('../../inspector/index.js');
    const inspector = await startInspector({ system, port: Number(values.port) });
    inspected = { system, close: () => inspector.close() };
    out(`inspector: ${inspector.url}\n`);
  };
  const result = await runDemo({ log: (line) => out(`  ${line}`), ...(values.inspect ? { onStart, keep: true } : {}) });
  out(`\n${summaryTable(result)}\n`);
  const failed = result.tickets.filter((t) => t.outcome !== t.expected);
  if (failed.length > 0) {
    process.stderr.write(`demo: ${failed.map((t) => `${t.ticket} ended ${t.outcome}, expected ${t.expected}${t.cause ? ` (${t.cause})` : ''}`).join('; ')}\n`);
    process.exitCode = 1;
  }
  if (inspected !== undefined) {
    const { system, close } = inspected;
    out('the system keeps running for the inspector (open the URL above: workflows, traces, the escrow history); Ctrl-C to stop');
    const stop = () => void close().then(() => system.shutdown()).finally(() => process.exit(process.exitCode ?? 0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    process.stderr.write(`demo failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  });
}
