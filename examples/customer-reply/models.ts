/**
 * The demo's three models: a sentiment classifier, the drafting agent's model and the brand-guidelines judge. With
 * `TROUPE_LLM_PROVIDER` (and model, key) set they are that provider's; otherwise the deterministic local model,
 * labelled `scripted` wherever it answers. The drafter sits behind an injected fault: while a ticket is in
 * `outage`, its calls fail with HTTP 503 before reaching the model, as a provider outage does.
 */
import { APICallError, type LanguageModelV3 } from '@ai-sdk/provider';
import { aiSdkClient, createLanguageModel, llmSettingsFromEnv, scriptedModel, validateLlmSettings, type LlmClient, type ScriptedTurn } from '../../actors/index.js';

export interface DemoModels {
  readonly classifier: LlmClient;
  readonly drafter: LlmClient;
  readonly judge: LlmClient;
  /** What answers: `scripted (local, offline)` or `<provider>:<model>`. */
  readonly label: string;
  /** Drafter requests that reached the provider (or were refused by the outage), by ticket. */
  readonly drafterCalls: Map<string, { readonly served: number; readonly refused: number }>;
}

/** `Ticket T-1001` in a prompt names the ticket it is for. */
export const ticketOf = (text: string): string => /Ticket (T-\d+)/.exec(text)?.[1] ?? 'unknown';

const ANGRY = /charged twice|refund|broken|still waiting|third time|unacceptable/i;

/** The local classifier: angry when the interactions say so; its confidence is lower when only one does. */
function classify(turn: ScriptedTurn): string {
  const lines = turn.key.split('\n').filter((line) => line.startsWith('- '));
  const angry = lines.filter((line) => ANGRY.test(line)).length;
  const label = angry > 0 ? 'angry' : 'neutral';
  const confidence = angry === 0 || angry >= 2 ? 0.94 : 0.86;
  return JSON.stringify({ label, confidence });
}

/** The local drafter: first it checks the offer's stock (a tool call), then it answers with a reply and its confidence. */
function draft(turn: ScriptedTurn): { text?: string; toolCalls?: Array<{ name: string; input: unknown }> } {
  if (turn.role === 'user') {
    const sku = /Offer sku: ([a-z0-9-]+)/.exec(turn.key)?.[1] ?? 'free-shipping';
    const customer = /Customer: ([^.]+)\./.exec(turn.key)?.[1] ?? 'customer';
    return { toolCalls: [{ name: 'check_stock', input: { sku, ticket: ticketOf(turn.key), customer } }] };
  }
  const stock = JSON.parse(turn.key.replace(/^tool check_stock: /, '')) as { ticket: string; name: string; customer: string };
  const ticket = stock.ticket;
  // T-1006's customer wrote something the model is unsure how to answer; T-1007's draft breaks a brand guideline.
  const confidence = ticket === 'T-1006' ? 0.72 : 0.93;
  const promise = ticket === 'T-1007' ? ' We guarantee a full refund within 24 hours.' : '';
  const reply = `Dear ${stock.customer}, we are sorry for the trouble. As a thank-you for your patience, here is ${stock.name}.${promise}`;
  return { text: JSON.stringify({ reply, confidence }) };
}

const judge = (turn: ScriptedTurn): string => (/guarantee/i.test(turn.key) ? 'FAIL: promises a guaranteed outcome (guideline 2: never promise what support cannot decide)' : 'PASS');

/** Fails calls whose prompt names a ticket in `outage` with a retryable HTTP 503, before the model is asked. */
function withOutage(model: LanguageModelV3, outage: ReadonlySet<string>, calls: DemoModels['drafterCalls']): LanguageModelV3 {
  const gate = (prompt: unknown) => {
    const ticket = ticketOf(JSON.stringify(prompt));
    const seen = calls.get(ticket) ?? { served: 0, refused: 0 };
    if (outage.has(ticket)) {
      calls.set(ticket, { ...seen, refused: seen.refused + 1 });
      throw new APICallError({ message: 'Service Unavailable (injected provider outage)', url: 'https://provider.invalid/v1/chat', requestBodyValues: {}, statusCode: 503, responseHeaders: {}, isRetryable: true });
    }
    calls.set(ticket, { ...seen, served: seen.served + 1 });
  };
  return {
    ...model,
    doGenerate: async (options) => (gate(options.prompt), model.doGenerate(options)),
    doStream: async (options) => (gate(options.prompt), model.doStream(options)),
  };
}

export function demoModels(options: { outage: ReadonlySet<string>; env?: NodeJS.ProcessEnv }): DemoModels {
  const drafterCalls: DemoModels['drafterCalls'] = new Map();
  const settings = llmSettingsFromEnv(options.env);
  if (settings !== undefined) {
    const s = validateLlmSettings(settings);
    const model = createLanguageModel(s);
    const secrets = s.apiKey ? [s.apiKey] : [];
    return {
      classifier: aiSdkClient(model, { secrets }),
      drafter: aiSdkClient(withOutage(model, options.outage, drafterCalls), { secrets }),
      judge: aiSdkClient(model, { secrets }),
      label: `${s.provider}:${s.model}`,
      drafterCalls,
    };
  }
  const local = (name: string, answer: (turn: ScriptedTurn) => ReturnType<typeof draft> | string) =>
    scriptedModel({ name, labelText: false, script: [{ when: () => true, answer }] });
  return {
    classifier: aiSdkClient(local('classifier', classify)),
    drafter: aiSdkClient(withOutage(local('drafter', draft), options.outage, drafterCalls)),
    judge: aiSdkClient(local('judge', judge)),
    label: 'scripted (local, offline: set TROUPE_LLM_PROVIDER for a real one)',
    drafterCalls,
  };
}
