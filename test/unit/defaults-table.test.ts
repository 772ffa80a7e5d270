/** docs/defaults.md against the code: every row is checked, and every checked default has its row. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DEFAULT_ASK_TIMEOUT_MS, DEFAULT_BATCH_TYPE, DEFAULT_BREAKER, DEFAULT_LEVELS, DEFAULT_POOL_AGING_MS, DEFAULT_POOL_LEASE_MS, DEFAULT_RETRY, DEFAULT_SLA_MS, DEFAULT_TIER, DEFAULT_TOKEN_BUDGET, DEFAULT_ESCROW } from '../../machines/index.js';
import { defaultConfig, DURABLE_RETENTION_DEFAULTS } from '../../src/index.js';
import { DEFAULT_NODE_LEASE_MS } from '../../src/cluster/membership.js';
import { DEFAULT_SHARDS } from '../../src/runtime/backends.js';
import { SERVICE_GRACE_MS } from '../../src/runtime/service-check.js';
import { DEAD_LETTER_DEFAULTS, JETSTREAM_MAILBOX_DEFAULTS } from '../../src/persistence/jetstream/jetstream-mailbox-log.js';
import { JETSTREAM_TRACE_DEFAULTS } from '../../src/persistence/jetstream/jetstream-trace-log.js';
import { InspectionHistory } from '../../src/inspection/history.js';
import { DEFAULT_INSPECT_LEASE_MS } from '../../src/cluster/inspect-holds.js';
import { resolvePolicy } from '../../src/supervision/policy.js';
import { stepEnv } from '../../machines/step-env.js';
import { step } from '../../machines/index.js';

/** The level a system logs at when nothing says otherwise (read from a fresh system's logger). */
const logLevel = await (async () => {
  const { createSystem } = await import('../../src/index.js');
  const previous = process.env['TROUPE_LOG_LEVEL'];
  delete process.env['TROUPE_LOG_LEVEL'];
  const system = await createSystem({ name: 'defaults', logDestination: { write: () => undefined } });
  if (previous !== undefined) process.env['TROUPE_LOG_LEVEL'] = previous;
  const level = (system as unknown as { log: { level: string } }).log.level;
  await system.shutdown();
  return level;
})();

const n = (value: number) => value.toLocaleString('en-US');
const config = defaultConfig('x');
const s = config.supervision;

/** Row -> the Default cell the code implies. */
const expected: Record<string, string> = {
  'Ask timeout': `${n(config.askTimeoutMs)} ms`,
  'Mailbox capacity': `${n(config.mailboxCapacity)} messages`,
  'Shutdown timeout': `${n(config.shutdownTimeoutMs)} ms`,
  'Supervisor strategy': resolvePolicy(undefined, s).strategy,
  'Restart intensity': `${s.intensity} restarts`,
  'Restart intensity period': `${n(s.periodMs)} ms`,
  'Restart backoff, first': `${n(s.backoff.minMs)} ms`,
  'Restart backoff, cap': `${n(s.backoff.maxMs)} ms`,
  'Restart backoff factor': `${s.backoff.factor} ×`,
  'Restart backoff jitter': `${s.backoff.jitter} share`,
  'Step attempts': `${DEFAULT_RETRY.maximumAttempts} attempts`,
  'Step retry, first delay': `${n(DEFAULT_RETRY.initialInterval)} ms`,
  'Step retry factor': `${DEFAULT_RETRY.backoffCoefficient} ×`,
  'Step retry, longest delay': `${n(DEFAULT_RETRY.maximumInterval)} ms`,
  'Step retry jitter': `${DEFAULT_RETRY.jitter} share`,
  'Exhausted retries': DEFAULT_RETRY.onExhausted,
  'Step is critical': String(stepEnv(step('x', async () => 1), [], { budget: 1, tokenizer: () => 1, summarizer: undefined }).critical),
  'Agent ask timeout (breaker, verifier, summarizer, fallback agents)': `${n(DEFAULT_ASK_TIMEOUT_MS)} ms`,
  'Escalation tier': DEFAULT_TIER,
  'Escrow address': `\`<system>/${DEFAULT_ESCROW}\``,
  'Spawn check on NATS: wait for a named service (escrow, breaker, agent) to appear': `${n(SERVICE_GRACE_MS)} ms`,
  'Escrow SLA, customer-facing': `${n(DEFAULT_SLA_MS['customer-facing']!)} ms`,
  'Escrow SLA, internal (and unknown tiers)': `${n(DEFAULT_SLA_MS['internal']!)} ms`,
  'Escrow levels': DEFAULT_LEVELS.join(', '),
  'Handoff token budget': `${n(DEFAULT_TOKEN_BUDGET)} tokens`,
  'Breaker failure threshold': `${DEFAULT_BREAKER.failureThreshold} failures`,
  'Breaker failure window': `${n(DEFAULT_BREAKER.windowMs)} ms`,
  'Breaker cooldown (open -> half-open)': `${n(DEFAULT_BREAKER.cooldownMs)} ms`,
  'Breaker trial timeout': `${n(DEFAULT_BREAKER.trialTimeoutMs)} ms`,
  'Pool aging': `${n(DEFAULT_POOL_AGING_MS)} ms per priority level`,
  'Pool lease': `${n(DEFAULT_POOL_LEASE_MS)} ms`,
  'Batch message type': DEFAULT_BATCH_TYPE,
  'Node lease (membership and shard leases)': `${n(DEFAULT_NODE_LEASE_MS)} ms`,
  'Mailbox shards': `${n(DEFAULT_SHARDS)}`,
  'Durable mailbox ackWait': `${n(JETSTREAM_MAILBOX_DEFAULTS.ackWaitMs)} ms`,
  'Duplicate window': `${n(JETSTREAM_MAILBOX_DEFAULTS.duplicateWindowMs)} ms`,
  'Finished records kept': `${n(DURABLE_RETENTION_DEFAULTS.finishedMs)} ms (${DURABLE_RETENTION_DEFAULTS.finishedMs / 86_400_000} days)`,
  'Mailbox compaction': `every ${n(DURABLE_RETENTION_DEFAULTS.purgeEvery)} messages applied`,
  'Trace kept': `${n(JETSTREAM_TRACE_DEFAULTS.maxAgeMs)} ms (${JETSTREAM_TRACE_DEFAULTS.maxAgeMs / 86_400_000} days)`,
  'Trace size': `${n(JETSTREAM_TRACE_DEFAULTS.maxBytes)} bytes (${JETSTREAM_TRACE_DEFAULTS.maxBytes / 1024 ** 3} GiB)`,
  'Dead letters kept': `${n(DEAD_LETTER_DEFAULTS.maxAgeMs)} ms (${DEAD_LETTER_DEFAULTS.maxAgeMs / 86_400_000} days)`,
  'Log level': `${logLevel} (on stderr)`,
  'Inspector history': `${n(new InspectionHistory().maxRecords)} records`,
  'Remote inspection lease (renewed every third)': `${n(DEFAULT_INSPECT_LEASE_MS)} ms`,
};

describe('docs/defaults.md (issue 13)', () => {
  it('lists every default with the value the code uses', () => {
    const text = readFileSync(fileURLToPath(new URL('../../docs/defaults.md', import.meta.url)), 'utf8');
    const rows = text.split('\n').filter((line) => line.startsWith('| ') && !line.startsWith('| Setting') && !line.startsWith('|---'));
    const table = Object.fromEntries(rows.map((row) => {
      const [setting, value] = row.split(' | ').map((cell) => cell.replace(/^\| /, '').trim());
      return [setting!, value!];
    }));
    expect(table).toEqual(expected);
  });
});
