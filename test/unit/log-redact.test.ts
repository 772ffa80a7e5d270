import { describe, expect, it } from 'vitest';
import { createSystem } from '../../src/index.js';

describe('credentials never reach a log line (issues 10, 12)', () => {
  it("the runtime's logger censors API keys, passwords, tokens and authorization headers, and the paths an application adds", async () => {
    const lines: string[] = [];
    const system = await createSystem({ name: 'redact', logLevel: 'info', logRedact: ['customer.email'], logDestination: { write: (line) => void lines.push(line) } });
    // The runtime's own logger (private): what any of its log lines goes through.
    const log = (system as unknown as { log: { warn(o: object, m: string): void } }).log;
    log.warn({ apiKey: 'sk-live-123', nats: { pass: 'hunter2', token: 't0k' }, req: { headers: { authorization: 'Bearer abc', 'x-api-key': 'k' } }, customer: { email: 'ada@example.com', name: 'Ada' } }, 'provider call');
    await system.shutdown();
    const line = lines.find((l) => l.includes('provider call'))!;
    for (const secret of ['sk-live-123', 'hunter2', 't0k', 'Bearer abc', '"k"', 'ada@example.com']) expect(line).not.toContain(secret);
    expect(JSON.parse(line)).toMatchObject({ apiKey: '[redacted]', nats: { pass: '[redacted]', token: '[redacted]' }, customer: { email: '[redacted]', name: 'Ada' } });
  });
});
