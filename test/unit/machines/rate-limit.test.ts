import { describe, expect, test } from 'vitest';
import { assign, setup } from 'xstate';
import { rateLimit, step, workflow, type PoolNotice } from '../../../machines/index.js';
import { createNet } from './harness.js';

const requester = setup({ types: { context: {} as { got: PoolNotice[] }, events: {} as PoolNotice } }).createMachine({
  context: { got: [] },
  on: { '*': { actions: assign({ got: ({ context, event }) => [...context.got, event] }) } },
});

function setupLimit(input: { requests: number; intervalMs: number; tokensPerMinute?: number }) {
  const net = createNet();
  const limit = net.add('rpm', rateLimit, { input });
  const me = net.add('me', requester);
  const got = () => (me.getSnapshot().context as { got: PoolNotice[] }).got.map((n) => `${n.type.slice(5)}:${n.requestId}`);
  const acquire = (requestId: string, extra: Record<string, unknown> = {}) => limit.send({ type: 'pool.acquire', requestId, replyTo: 'me', ...extra });
  return { net, limit, got, acquire };
}

describe('rate limit (issue 11)', () => {
  test('grants a burst up to its size, then one request per interval share, in order', async () => {
    const { net, got, acquire } = setupLimit({ requests: 2, intervalMs: 1_000 });
    for (const id of ['a', 'b', 'c', 'd']) acquire(id);
    await net.settle();
    expect(got()).toEqual(['granted:a', 'granted:b']);
    await net.advance(499);
    expect(got()).toHaveLength(2);
    await net.advance(1);
    expect(got()).toEqual(['granted:a', 'granted:b', 'granted:c']);
    await net.advance(500);
    expect(got()).toEqual(['granted:a', 'granted:b', 'granted:c', 'granted:d']);
  });

  test("a provider's 429 pauses the bucket for everyone; a waiting request past its deadline fails retryably", async () => {
    const { net, limit, got, acquire } = setupLimit({ requests: 10, intervalMs: 1_000 });
    limit.send({ type: 'ratelimit.pause', retryAfterMs: 3_000 });
    acquire('x');
    acquire('hurried', { deadlineMs: 1_000 });
    await net.advance(1_000);
    expect(got()).toEqual(['expired:hurried']);
    await net.advance(2_000);
    expect(got()).toEqual(['expired:hurried', 'granted:x']);
  });

  test('tokens per minute: a request waits until the minute has room for its tokens, and nobody overtakes it', async () => {
    const { net, got, acquire } = setupLimit({ requests: 100, intervalMs: 1_000, tokensPerMinute: 1_000 });
    acquire('big1', { tokens: 600 });
    acquire('big2', { tokens: 600 });
    acquire('small', { tokens: 10 });
    await net.settle();
    expect(got()).toEqual(['granted:big1']);
    // small would fit now (400 left), but it came after big2: it waits its turn.
    await net.advance(12_000); // 400 + 200 refilled = 600: big2
    expect(got()).toEqual(['granted:big1', 'granted:big2']);
    await net.advance(600); // 10 more tokens
    expect(got()).toEqual(['granted:big1', 'granted:big2', 'granted:small']);
  });

  test('a step lists it in `uses` like a pool', async () => {
    const { net } = setupLimit({ requests: 1, intervalMs: 10_000 });
    const wf = (id: string) => workflow(id, { steps: [step('call', async () => id, { uses: ['rpm'] })] });
    const first = net.add('w1', wf('w1'));
    const second = net.add('w2', wf('w2'));
    await net.settle();
    expect(first.getSnapshot().status).toBe('done');
    expect(net.path('w2')).toEqual(['call.waiting']);
    await net.advance(10_000);
    expect(second.getSnapshot().output).toMatchObject({ status: 'completed', results: { call: 'w2' } });
  });
});
