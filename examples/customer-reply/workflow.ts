/**
 * The `customer-reply` workflow: the six steps of a production support team, each with its failure path as a
 * state of the statechart.
 *
 *   history    GET the customer's history from the CRM API (2 s timeout per attempt, retried with backoff);
 *              a malformed ticket fails here, non-retryable: the workflow aborts with the cause
 *   sentiment  a classifier agent reads the last three interactions
 *   inventory  reserves the offer in SQLite (compensated: the unit goes back if a later critical step fails)
 *   draft      a tool-using agent (check_stock) writes the reply; a verifier agent checks it against the brand
 *              guidelines (a FAIL re-drafts); a shared circuit breaker guards the provider, with a template reply
 *              as the fallback while it is open
 *   route      confidence below 0.85 escalates to a person (escrow, customer-facing tier)
 *   send       records the reply in the outbox (idempotent by key)
 */
import { z } from 'zod';
import { agent, runAgent, step, workflow, type AttemptArgs } from '../../machines/index.js';
import { llmVerifier } from '../../actors/index.js';
import { NonRetryableError, RetryableError } from '../../src/index.js';
import type { Inventory } from './inventory.js';
import type { DemoModels } from './models.js';

export const TICKET = z.object({
  id: z.string().regex(/^T-\d+$/, 'a ticket id is T-<digits>'),
  customerId: z.string().min(1),
  message: z.string().min(1),
});
export type Ticket = z.infer<typeof TICKET>;

export const ESCALATE_BELOW = 0.85;
export const BRAND_GUIDELINES = [
  '1. Apologise once, plainly; no exclamation marks.',
  '2. Never promise what support cannot decide: no guaranteed refunds, dates or amounts.',
  '3. Name the offer exactly as the inventory names it.',
].join('\n');

interface History { readonly name: string; readonly interactions: ReadonlyArray<{ at: string; channel: string; text: string }> }
interface Sentiment { readonly label: 'angry' | 'neutral'; readonly confidence: number }
interface Reservation { readonly sku: string; readonly name: string; readonly reservation: string }
export interface Draft { readonly reply: string; readonly confidence: number; readonly via: 'model' | 'fallback-template'; readonly turns?: number; readonly usage?: { inputTokens: number; outputTokens: number } }

/** The first JSON object in a model's text (a real model may wrap it in prose or a code fence). */
function jsonIn<T>(text: string, what: string): T {
  const match = /\{[\s\S]*\}/.exec(text);
  try {
    if (match) return JSON.parse(match[0]) as T;
  } catch {
    // fall through to the error below
  }
  throw new RetryableError(`${what}: the model's answer is not JSON: ${text.slice(0, 120)}`, { type: 'ModelAnswerMalformed' });
}

export interface CustomerReplyDeps {
  readonly crmUrl: string;
  readonly inventory: Inventory;
  readonly models: DemoModels;
  /** Address of the circuit breaker guarding the drafting model. */
  readonly breaker: string;
  /** Address of the escrow where unsure replies wait for a person. */
  readonly escrow: string;
  /** Base delay of retries, ms (the demo keeps it short). */
  readonly retryMs?: number;
  /** Per-attempt timeout of the CRM call, ms. */
  readonly crmTimeoutMs?: number;
}

export function customerReply(deps: CustomerReplyDeps) {
  const retryMs = deps.retryMs ?? 100;
  type Args = AttemptArgs<Ticket>;

  const classifier = agent({
    model: deps.models.classifier,
    system: 'You classify the sentiment of a customer from their last interactions. Answer only JSON: {"label": "angry" | "neutral", "confidence": <0..1>}.',
    maxTurns: 2,
  });
  const drafter = agent({
    model: deps.models.drafter,
    system: `You draft replies for customer support. Check the offer's stock with check_stock first. Then answer only JSON: {"reply": "<text>", "confidence": <0..1>}.\nBrand guidelines:\n${BRAND_GUIDELINES}`,
    tools: {
      check_stock: {
        description: 'Units left of an offer, by sku',
        input: z.object({ sku: z.string(), ticket: z.string(), customer: z.string() }),
        run: ({ sku, ticket, customer }: { sku: string; ticket: string; customer: string }) => {
          const product = deps.inventory.product(sku);
          if (product === undefined) throw new NonRetryableError(`no product ${sku}`, { type: 'UnknownProduct' });
          return { ticket, customer, sku, name: product.name, inStock: product.stock };
        },
      },
    },
    maxTurns: 4,
  });

  return workflow<Ticket>('customer-reply', {
    escrow: deps.escrow,
    steps: [
      step('history', async ({ input, signal }: Args) => {
        const parsed = TICKET.safeParse(input);
        if (!parsed.success) {
          throw new NonRetryableError(`malformed ticket: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(ticket)'}: ${i.message}`).join('; ')}`, { type: 'MalformedTicket' });
        }
        const response = await fetch(`${deps.crmUrl}/customers/${encodeURIComponent(input.customerId)}/history`, { signal });
        if (response.status === 404) throw new NonRetryableError(`no customer ${input.customerId} in the CRM`, { type: 'UnknownCustomer' });
        if (!response.ok) throw new RetryableError(`CRM answered ${response.status}`, { type: 'CrmUnavailable' });
        const history = (await response.json()) as History;
        return { name: history.name, interactions: history.interactions.slice(-3) };
      }, { startToCloseMs: deps.crmTimeoutMs ?? 2_000, retry: { maximumAttempts: 3, initialInterval: retryMs } }),

      step('sentiment', async (args: Args) => {
        const { input, context, idempotencyKey } = args;
        const { history } = context as { history: History };
        const prompt = `Ticket ${input.id}. Last interactions:\n${history.interactions.map((i) => `- ${i.channel}: ${i.text}`).join('\n')}`;
        // The attempt's args give the agent its signal and put each of its turns in the trace.
        const out = await runAgent(classifier, { prompt, id: idempotencyKey }, args);
        if (out.status !== 'answered') throw new RetryableError(`classifier ${out.reason}: ${out.detail}`);
        return { ...jsonIn<Sentiment>(out.answer, 'sentiment'), usage: out.usage };
      }, { retry: { maximumAttempts: 3, initialInterval: retryMs } }),

      step('inventory', ({ input, context, idempotencyKey }: Args) => {
        const { sentiment } = context as { sentiment: Sentiment };
        return deps.inventory.reserve(idempotencyKey, sentiment.label === 'angry' ? 'voucher-20' : 'free-shipping', input.id) as Reservation;
      }, {
        compensate: ({ output }) => ({ released: deps.inventory.release((output as Reservation).reservation) }),
      }),

      step('draft', async (args: Args) => {
        const { input, context, idempotencyKey, attempt } = args;
        const { history, inventory } = context as { history: History; inventory: Reservation };
        const prompt = `Ticket ${input.id}. Customer: ${history.name}. Customer message: ${input.message}\nOffer sku: ${inventory.sku}`;
        const out = await runAgent(drafter, { prompt, id: `${idempotencyKey}/${attempt}` }, args);
        if (out.status !== 'answered') throw new RetryableError(`drafter ${out.reason}: ${out.detail}`);
        const draft = jsonIn<{ reply: string; confidence: number }>(out.answer, 'draft');
        return { reply: draft.reply, confidence: draft.confidence, via: 'model', turns: out.turns, usage: out.usage } satisfies Draft;
      }, {
        retry: { maximumAttempts: 3, initialInterval: retryMs },
        breaker: deps.breaker,
        // While the provider's breaker is open: a reply from the approved template, no model call.
        fallback: ({ input }: Args) => ({ reply: `Dear customer, thank you for your message about "${input.message.slice(0, 60)}". A colleague will follow up today.`, confidence: 0.9, via: 'fallback-template' }) satisfies Draft,
        verify: (() => {
          const check = llmVerifier(deps.models.judge, BRAND_GUIDELINES);
          return (args) => check({ ...args, output: (args.output as Draft).reply });
        })(),
      }),

      step('route', ({ context }: Args) => {
        const { draft } = context as { draft: Draft };
        return { confidence: draft.confidence, reply: draft.reply };
      }, { minConfidence: ESCALATE_BELOW, escalation: { tier: 'customer-facing' } }),

      step('send', ({ input, context, idempotencyKey }: Args) => {
        const { route } = context as { route: { reply: string } };
        return { messageId: deps.inventory.send(idempotencyKey, input.id, route.reply) };
      }),
    ],
  });
}
