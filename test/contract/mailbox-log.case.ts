/**
 * The MailboxLog contract: one behavioural suite for every implementation (STYLE §11, hono's
 * `common.case.test.ts`). The factory returns an empty log per call with the given short ack wait, and
 * routes handler errors to `onHandlerError`.
 *
 * No case asserts a duration. "Not redelivered" is shown with a fence instead of a sleep: an unacked probe
 * message on the same shard, handed out after the message under test, has been redelivered twice — so at
 * least two ack waits passed in which the message under test would have come back too.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { NonRetryableError } from '../../src/errors.js';
import { mailboxSubject, type MailboxDelivery, type MailboxLog } from '../../src/persistence/mailbox-log.js';

export interface MailboxLogFactoryOptions {
  readonly ackWaitMs: number;
  readonly onHandlerError: (error: unknown) => void;
}
export type MailboxLogFactory = (options: MailboxLogFactoryOptions) => Promise<MailboxLog>;

export const ACK_WAIT_MS = 300;
const SYSTEM = 'contract';
const bytes = (text: string) => new TextEncoder().encode(text);
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const subject = (shard: number, actor: string) => mailboxSubject(SYSTEM, shard, `${SYSTEM}/${actor}`);

/** Polls `condition` every 10 ms; fails naming `what` after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A consumer that records every delivery and reacts with `onDelivery` (default: ack). */
async function record(log: MailboxLog, shard: number, onDelivery: (d: MailboxDelivery) => void = (d) => d.ack()) {
  const got: MailboxDelivery[] = [];
  const stop = await log.consume(shard, (d) => {
    got.push(d);
    onDelivery(d);
  });
  const of = (seq: number) => got.filter((d) => d.seq === seq);
  return { got, stop, of };
}

export function describeMailboxLogContract(name: string, factory: MailboxLogFactory): void {
  describe(name, () => {
    let open: MailboxLog[] = [];
    let handlerErrors: unknown[] = [];
    const make = async () => {
      const log = await factory({ ackWaitMs: ACK_WAIT_MS, onHandlerError: (e) => handlerErrors.push(e) });
      open.push(log);
      return log;
    };
    afterEach(async () => {
      await Promise.all(open.map((l) => l.close()));
      open = [];
      handlerErrors = [];
    });

    /** Appends an unacked probe to `shard` and waits until it was redelivered twice (see the file comment). */
    const fence = async (log: MailboxLog, consumer: { of: (seq: number) => MailboxDelivery[] }, shard: number) => {
      const { seq } = await log.append(subject(shard, 'probe'), bytes('probe'), `probe-${shard}-${Date.now()}`);
      await waitFor(() => consumer.of(seq).length >= 3, 'the probe to be redelivered twice');
    };
    const leaveProbes = (d: MailboxDelivery) => (text(d.data) === 'probe' ? undefined : d.ack());

    test('append returns increasing stream sequences', async () => {
      const log = await make();
      const seqs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const result = await log.append(subject(i % 3, 'a'), bytes(`m${i}`), `id-${i}`);
        expect(result.duplicate).toBe(false);
        seqs.push(result.seq);
      }
      expect(seqs[0]).toBeGreaterThan(0);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]!);
    });

    test('the same msgId twice is stored once: the second append says duplicate, one delivery', async () => {
      const log = await make();
      const first = await log.append(subject(0, 'a'), bytes('once'), 'same-id');
      const second = await log.append(subject(0, 'a'), bytes('once'), 'same-id');
      expect(first.duplicate).toBe(false);
      expect(second).toEqual({ seq: first.seq, duplicate: true });
      const after = await log.append(subject(0, 'a'), bytes('after'), 'other-id');
      const c = await record(log, 0);
      await waitFor(() => c.of(after.seq).length > 0, 'the message appended after the duplicate');
      expect(c.got.map((d) => text(d.data))).toEqual(['once', 'after']);
    });

    test('first deliveries within a shard come in append order', async () => {
      const log = await make();
      const c = await record(log, 1);
      const sent: number[] = [];
      for (let i = 0; i < 50; i++) sent.push((await log.append(subject(1, i % 2 ? 'odd' : 'even'), bytes(`m${i}`), `order-${i}`)).seq);
      await waitFor(() => c.got.length >= 50, '50 deliveries');
      expect(c.got.map((d) => d.seq)).toEqual(sent);
      expect(c.got.map((d) => text(d.data))).toEqual(sent.map((_, i) => `m${i}`));
      expect(c.got.every((d) => d.deliveryCount === 1)).toBe(true);
    });

    test('shards are isolated: a shard consumer sees only its own subjects', async () => {
      const log = await make();
      const zero = await record(log, 0);
      const one = await log.append(subject(1, 'b'), bytes('for shard 1'), 'iso-1');
      const two = await log.append(subject(2, 'c'), bytes('for shard 2'), 'iso-2');
      const last = await log.append(subject(0, 'a'), bytes('for shard 0'), 'iso-0');
      await waitFor(() => zero.of(last.seq).length > 0, 'the shard 0 message');
      expect(zero.got.map((d) => d.subject)).toEqual([subject(0, 'a')]);
      const oneC = await record(log, 1);
      await waitFor(() => oneC.of(one.seq).length > 0, 'the shard 1 message');
      expect(oneC.got.map((d) => d.subject)).toEqual([subject(1, 'b')]);
      expect(oneC.of(two.seq)).toEqual([]);
    });

    test('an unacked delivery is redelivered after the ack wait, with a growing delivery count', async () => {
      const log = await make();
      const c = await record(log, 0, () => undefined);
      const { seq } = await log.append(subject(0, 'a'), bytes('ignored'), 'unacked');
      await waitFor(() => c.of(seq).length >= 3, 'two redeliveries');
      expect(c.of(seq).slice(0, 3).map((d) => d.deliveryCount)).toEqual([1, 2, 3]);
      expect(c.of(seq).every((d) => text(d.data) === 'ignored')).toBe(true);
    });

    test('nak(0) redelivers with deliveryCount 2; acking that stops it', async () => {
      const log = await make();
      const c = await record(log, 0, (d) => (d.deliveryCount === 1 && text(d.data) === 'nak me' ? d.nak(0) : leaveProbes(d)));
      const { seq } = await log.append(subject(0, 'a'), bytes('nak me'), 'nak');
      await waitFor(() => c.of(seq).length >= 2, 'the redelivery after nak');
      expect(c.of(seq).map((d) => d.deliveryCount)).toEqual([1, 2]);
      await fence(log, c, 0);
      expect(c.of(seq)).toHaveLength(2);
    });

    test('ack stops redelivery', async () => {
      const log = await make();
      const c = await record(log, 0, leaveProbes);
      const { seq } = await log.append(subject(0, 'a'), bytes('ack me'), 'ack');
      await fence(log, c, 0);
      expect(c.of(seq)).toHaveLength(1);
    });

    test('term stops redelivery', async () => {
      const log = await make();
      const c = await record(log, 0, (d) => (text(d.data) === 'poison' ? d.term() : undefined));
      const { seq } = await log.append(subject(0, 'a'), bytes('poison'), 'term');
      await fence(log, c, 0);
      expect(c.of(seq)).toHaveLength(1);
    });

    test('working() keeps a slow message from being redelivered', async () => {
      const log = await make();
      const slow: MailboxDelivery[] = [];
      const c = await record(log, 0, (d) => (text(d.data) === 'slow' ? slow.push(d) : undefined));
      const { seq } = await log.append(subject(0, 'a'), bytes('slow'), 'slow');
      await waitFor(() => slow.length > 0, 'the slow message');
      const ticker = setInterval(() => slow[0]!.working(), ACK_WAIT_MS / 4);
      try {
        // The probe is handed out after the slow message: three of its redeliveries span three ack waits.
        const probe = await log.append(subject(0, 'probe'), bytes('probe'), 'slow-probe');
        await waitFor(() => c.of(probe.seq).length >= 4, 'three redeliveries of the probe');
        expect(c.of(seq)).toHaveLength(1);
      } finally {
        clearInterval(ticker);
      }
      slow[0]!.ack();
      await fence(log, c, 0);
      expect(c.of(seq)).toHaveLength(1);
    });

    test('messages appended before a consumer starts are delivered, in order, when it starts', async () => {
      const log = await make();
      const sent: number[] = [];
      for (let i = 0; i < 5; i++) sent.push((await log.append(subject(2, 'early'), bytes(`e${i}`), `early-${i}`)).seq);
      const c = await record(log, 2);
      await waitFor(() => c.got.length >= 5, 'the 5 early messages');
      expect(c.got.map((d) => d.seq)).toEqual(sent);
    });

    test('after stop, the handler is not called again, and the next consumer gets what was left unacked', async () => {
      const log = await make();
      const first = await record(log, 0, () => undefined);
      const held = await log.append(subject(0, 'a'), bytes('held'), 'held');
      await waitFor(() => first.of(held.seq).length > 0, 'the first delivery');
      await first.stop();
      const countAtStop = first.got.length;
      const whileStopped = await log.append(subject(0, 'a'), bytes('while stopped'), 'while-stopped');
      const second = await record(log, 0);
      await waitFor(() => second.of(held.seq).length > 0 && second.of(whileStopped.seq).length > 0, 'both messages on the new consumer');
      expect(second.of(held.seq)[0]!.deliveryCount).toBeGreaterThanOrEqual(2);
      expect(first.got).toHaveLength(countAtStop);
    });

    test('a handler that throws is isolated: consumption goes on and the message comes back', async () => {
      const log = await make();
      const c = await record(log, 0, (d) => {
        if (text(d.data) === 'boom' && d.deliveryCount === 1) throw new Error('handler bug');
        d.ack();
      });
      const boom = await log.append(subject(0, 'a'), bytes('boom'), 'boom');
      const next = await log.append(subject(0, 'a'), bytes('next'), 'next');
      await waitFor(() => c.of(next.seq).length > 0 && c.of(boom.seq).length >= 2, 'the next message and the redelivery');
      expect(handlerErrors.map((e) => (e as Error).message)).toEqual(['handler bug']);
    });

    test('deadLetter is counted; the same message dead-lettered twice counts once', async () => {
      const log = await make();
      expect(await log.deadLetterCount()).toBe(0);
      await log.deadLetter(subject(0, 'a'), bytes('bad 1'), 'cannot decode');
      await log.deadLetter(subject(0, 'a'), bytes('bad 2'), 'cannot decode');
      await log.deadLetter(subject(0, 'a'), bytes('bad 1'), 'cannot decode (retried)');
      expect(await log.deadLetterCount()).toBe(2);
    });

    test('bytes round-trip exactly: empty, every byte value, 100 KB, and deliveries are not aliased', async () => {
      const log = await make();
      const values = [new Uint8Array(0), Uint8Array.from({ length: 256 }, (_, i) => i), noise(100 * 1024)];
      const c = await record(log, 0, () => undefined);
      const seqs: number[] = [];
      for (const [i, value] of values.entries()) seqs.push((await log.append(subject(0, 'bin'), value, `bin-${i}`)).seq);
      await waitFor(() => seqs.every((s) => c.of(s).length >= 2), 'each value twice');
      c.of(seqs[1]!)[0]!.data[0] = 99; // mutating one delivery must not change the stored message
      for (const [i, seq] of seqs.entries()) {
        const again = c.of(seq)[1]!.data;
        expect(again).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(again).equals(Buffer.from(values[i]!))).toBe(true);
      }
    });

    test('misuse is refused with NonRetryableError: foreign subject, empty msgId, bad shard, second consumer, closed log', async () => {
      const log = await make();
      for (const bad of ['troupe.contract.rpc.a', 'other.subject', subject(99, 'a')]) {
        await expect(log.append(bad, bytes('x'), 'bad'), bad).rejects.toBeInstanceOf(NonRetryableError);
      }
      await expect(log.append(subject(0, 'a'), bytes('x'), '')).rejects.toBeInstanceOf(NonRetryableError);
      await expect(log.consume(log.shards, () => undefined)).rejects.toBeInstanceOf(NonRetryableError);
      await log.consume(0, () => undefined);
      await expect(log.consume(0, () => undefined)).rejects.toBeInstanceOf(NonRetryableError);
      await log.close();
      await expect(log.append(subject(0, 'a'), bytes('x'), 'late')).rejects.toBeInstanceOf(NonRetryableError);
    });
  });
}

/** Deterministic pseudo-random bytes (no Math.random: a failure must reproduce). */
function noise(length: number, seed = 7): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
}
