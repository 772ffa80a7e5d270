/**
 * The Transport contract: one behavioural suite, run against every implementation (hono's
 * `common.case.test.ts` pattern, STYLE §11). A runner passes a factory and lists the cases its
 * implementation legitimately cannot run, each with a reason.
 *
 * Delivery is awaited with a fence, not a sleep: a message published after the others on the same
 * transport arrives after them (memory: microtask order; NATS: one connection keeps order), so once the
 * fence is seen, every earlier message that was going to arrive has arrived.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { CodecError, DeadLetterError, TimeoutError } from '../../src/errors.js';
import type { Transport, TransportMessage, TransportStatus } from '../../src/transport/transport.js';

export interface TransportContractOptions {
  /**
   * 'bounded' (default): a message over the max payload fails with CodecError. 'unbounded': an in-process
   * bus has no max payload, and the same large message must arrive intact instead.
   */
  readonly payload?: 'bounded' | 'unbounded';
}

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);

export function describeTransportContract(name: string, factory: () => Promise<Transport>, options: TransportContractOptions = {}): void {
  describe(name, () => {
    let open: Transport[] = [];
    const make = async () => {
      const transport = await factory();
      open.push(transport);
      return transport;
    };
    afterEach(async () => {
      await Promise.all(open.map((t) => t.close()));
      open = [];
    });

    test(`'*' matches exactly one token`, async () => {
      const t = await make();
      const got = record(t, 'c.*.x');
      for (const s of ['c.a.x', 'c.a.b.x', 'c.x', 'd.a.x', 'c.b.x']) t.publish(s, bytes(s));
      await fence(t);
      expect(got.map((m) => m.subject)).toEqual(['c.a.x', 'c.b.x']);
    });

    test(`'>' matches one or more trailing tokens`, async () => {
      const t = await make();
      const got = record(t, 'c.>');
      for (const s of ['c', 'c.a', 'c.a.b', 'd.a', 'cc.a']) t.publish(s, bytes(s));
      await fence(t);
      expect(got.map((m) => m.subject)).toEqual(['c.a', 'c.a.b']);
    });

    test(`bytes arrive exactly, including an empty message and every byte value`, async () => {
      const t = await make();
      const got = record(t, 'bin');
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      t.publish('bin', new Uint8Array(0));
      t.publish('bin', all);
      await fence(t);
      expect(got.map((m) => [...m.data])).toEqual([[], [...all]]);
    });

    test(`a queue group gets each message once, every group and plain subscriber gets all`, async () => {
      const t = await make();
      const g1a = record(t, 'work', 'g1');
      const g1b = record(t, 'work', 'g1');
      const g2 = record(t, 'work', 'g2');
      const plain = record(t, 'work');
      const sent = Array.from({ length: 20 }, (_, i) => `m${i}`);
      for (const m of sent) t.publish('work', bytes(m));
      await fence(t);
      const sorted = (ms: TransportMessage[]) => ms.map((m) => text(m.data)).sort();
      expect(sorted([...g1a, ...g1b])).toEqual([...sent].sort());
      expect(sorted(g2)).toEqual([...sent].sort());
      expect(sorted(plain)).toEqual([...sent].sort());
    });

    test(`unsubscribe stops delivery`, async () => {
      const t = await make();
      const got: string[] = [];
      const sub = t.subscribe('u', (m) => got.push(text(m.data)));
      t.publish('u', bytes('before'));
      await fence(t);
      sub.unsubscribe();
      sub.unsubscribe(); // idempotent
      t.publish('u', bytes('after'));
      await fence(t);
      expect(got).toEqual(['before']);
    });

    test(`a publish with a reply subject hands the reply subject to the subscriber (and none without)`, async () => {
      const t = await make();
      const got = record(t, 'asks');
      t.publish('asks', bytes('q'), 'answers.here');
      t.publish('asks', bytes('tell'));
      await fence(t);
      expect(got.map((m) => m.reply)).toEqual(['answers.here', undefined]);
    });

    test(`nothing is delivered after unsubscribe, not even a message already on its way`, async () => {
      const t = await make();
      const got: string[] = [];
      const sub = t.subscribe('inflight', (m) => got.push(text(m.data)));
      t.publish('inflight', bytes('x'));
      sub.unsubscribe(); // synchronously after the publish: the message is in flight
      await fence(t);
      expect(got).toEqual([]);
    });

    test(`close rejects a request in flight with DeadLetterError`, async () => {
      const t = await make();
      t.subscribe('svc.slow', () => {});
      const pending = t.request('svc.slow', bytes('x'), { timeoutMs: 20_000 }).catch((e: unknown) => e);
      await fence(t); // the request has reached the responder
      await t.close();
      const error = await pending;
      expect(error).toBeInstanceOf(DeadLetterError);
      expect((error as DeadLetterError).reason).toBe('transport is closed');
    });

    test(`request gets the responder's reply (a queue-group responder answers once)`, async () => {
      const t = await make();
      for (let i = 0; i < 2; i++) {
        t.subscribe('svc.upper', (m) => t.publish(m.reply!, bytes(text(m.data).toUpperCase())), { queue: 'svc' });
      }
      const reply = await t.request('svc.upper', bytes('hello'), { timeoutMs: 5_000 });
      expect(text(reply.data)).toBe('HELLO');
    });

    test(`a request nobody answers in time rejects with TimeoutError`, async () => {
      const t = await make();
      t.subscribe('svc.silent', () => {});
      const error = await t.request('svc.silent', bytes('x'), { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).timeoutMs).toBe(200);
    });

    test(`a request with no subscriber rejects with DeadLetterError (no responders)`, async () => {
      const t = await make();
      const error = await t.request('svc.nobody', bytes('x'), { timeoutMs: 5_000 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DeadLetterError);
      expect((error as DeadLetterError).reason).toBe('no responders');
    });

    test(`close is idempotent, reports 'closed' once, then publish drops and request rejects`, async () => {
      const t = await make();
      const statuses: TransportStatus['type'][] = [];
      t.onStatus((s) => statuses.push(s.type));
      await Promise.all([t.close(), t.close()]);
      await t.close();
      expect(statuses.filter((s) => s === 'closed')).toHaveLength(1);
      expect(() => t.publish('after.close', bytes('x'))).not.toThrow();
      await expect(t.request('after.close', bytes('x'), { timeoutMs: 1_000 })).rejects.toBeInstanceOf(DeadLetterError);
    });

    if (options.payload === 'unbounded') {
      test('a 4 MiB message arrives intact (this transport has no max payload)', async () => {
        const t = await make();
        const got = record(t, 'big');
        const big = Uint8Array.from({ length: 4 * 1024 * 1024 }, (_, i) => i % 251);
        t.publish('big', big);
        await fence(t);
        expect(got).toHaveLength(1);
        // Buffer.equals: vitest's deep equality takes minutes over 4 MiB.
        expect(Buffer.from(got[0]!.data).equals(Buffer.from(big))).toBe(true);
      });
    } else {
      test('a message over the max payload fails with CodecError naming both sizes', async () => {
        const t = await make();
        const big = new Uint8Array(4 * 1024 * 1024);
        expect(() => t.publish('big', big)).toThrow(CodecError);
        expect(() => t.publish('big', big)).toThrow(/4194304 bytes.*max_payload of \d+ bytes/);
        await expect(t.request('big', big, { timeoutMs: 1_000 })).rejects.toBeInstanceOf(CodecError);
      });
    }
  });
}

function record(t: Transport, subject: string, queue?: string): TransportMessage[] {
  const got: TransportMessage[] = [];
  t.subscribe(subject, (m) => got.push(m), queue === undefined ? undefined : { queue });
  return got;
}

let fences = 0;
/** Resolves once a message published now has come back: everything published before it has arrived. */
export async function fence(t: Transport, timeoutMs = 5_000): Promise<void> {
  const subject = `fence.${process.pid}.${++fences}`;
  let sub: { unsubscribe(): void } | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      sub = t.subscribe(subject, () => resolve());
      timer = setTimeout(() => reject(new Error(`fence ${subject} did not come back within ${timeoutMs} ms`)), timeoutMs);
      t.publish(subject, new Uint8Array(0));
    });
  } finally {
    clearTimeout(timer);
    sub?.unsubscribe();
  }
}
