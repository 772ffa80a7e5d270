import { describe, expect, it } from 'vitest';
import { CodecError } from '../../src/index.js';
import { decodeTells, encode, encodeEnvelope, encodeTell, encodeTellBatch, ENVELOPE_VERSION, eventEnvelope, MAX_TELL_BATCH } from '../../src/codec/index.js';

const inc = (n: number) => ({ type: 'inc', n });

describe('tell batches (the rpc relay wire form of tells to one address)', () => {
  it('round-trips tells in order, each with its own sender and trace context, and the header once', () => {
    const traceContext = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
    const bytes = encodeTellBatch('s/a', 'n.7', 1_700, [
      encodeTell(inc(1), {}),
      encodeTell(inc(2), { from: 's/b' }),
      encodeTell({ type: 'at', at: new Date(5), bytes: new Uint8Array([1, 2]) } as { type: string }, { from: 's/c', fromDurable: true, traceContext }),
    ]);
    const batch = decodeTells(bytes);
    expect(batch).toMatchObject({ to: 's/a', id: 'n.7', ts: 1_700 });
    expect(batch.tells).toEqual([
      { event: inc(1), meta: undefined },
      { event: inc(2), meta: { from: 's/b' } },
      { event: { type: 'at', at: new Date(5), bytes: new Uint8Array([1, 2]) }, meta: { from: 's/c', fromDurable: true, traceContext } },
    ]);
  });

  it('encodes a tell as its event alone when it carries nothing else, and is smaller than envelopes of the same tells', () => {
    expect(encodeTell(inc(1), { from: undefined, fromDurable: false, traceContext: undefined })).toEqual(encode(inc(1)));
    const tells = Array.from({ length: 200 }, (_, i) => inc(i));
    const batch = encodeTellBatch('cbench/sink-far', 'n.1', Date.now(), tells.map((t) => encodeTell(t, {})));
    const envelopes = tells.map((t, i) => encodeEnvelope(eventEnvelope(`n.${i}`, 'cbench/sink-far', t, Date.now())));
    expect(batch.byteLength * 3).toBeLessThan(envelopes.reduce((sum, e) => sum + e.byteLength, 0));
    expect(decodeTells(batch).tells.map((t) => t.event)).toEqual(tells);
  });

  it('holds from zero to its maximum of tells (array headers of every size)', () => {
    for (const count of [0, 1, 10, 11, 200, MAX_TELL_BATCH]) {
      const batch = decodeTells(encodeTellBatch('s/a', 'n.1', 1, Array.from({ length: count }, () => encodeTell(inc(1), {}))));
      expect(batch.tells).toHaveLength(count);
    }
    expect(() => encodeTellBatch('s/a', 'n.1', 1, Array.from({ length: MAX_TELL_BATCH + 1 }, () => encodeTell(inc(1), {})))).toThrow(CodecError);
  });

  it('reads a single event envelope as a batch of one (what any NATS client can publish)', () => {
    const bytes = encodeEnvelope(eventEnvelope('x.1', 's/a', inc(3), 9, { from: 's/b', fromDurable: true }));
    expect(decodeTells(bytes)).toEqual({ to: 's/a', id: 'x.1', ts: 9, tells: [{ event: inc(3), meta: { from: 's/b', fromDurable: true } }] });
  });

  it('refuses every malformed batch with a CodecError naming what is wrong', () => {
    const ok = encodeTell(inc(1), {});
    const cases: Array<[Uint8Array, RegExp]> = [
      [encode(['troupe.tells', ENVELOPE_VERSION + 1, 's/a', 'n.1', 1]), /unsupported tell batch version/],
      [encode(['troupe.tells', ENVELOPE_VERSION, '', 'n.1', 1]), /to must be a non-empty string/],
      [encode(['troupe.tells', ENVELOPE_VERSION, 's/a', 7, 1]), /id must be a non-empty string/],
      [encode(['troupe.tells', ENVELOPE_VERSION, 's/a', 'n.1', '1']), /ts must be a number/],
      [encodeTellBatch('s/a', 'n.1', 1, [ok, encode({ type: '' })]), /entry 1 is not an event/],
      [encodeTellBatch('s/a', 'n.1', 1, [encode(['inc'])]), /entry 0 must be an event or \[event, meta\]/],
      [encodeTellBatch('s/a', 'n.1', 1, [encode([inc(1), 'meta'])]), /entry 0 meta must be a map/],
      [encodeTellBatch('s/a', 'n.1', 1, [encode([inc(1), { from: '' }])]), /entry 0 from must be a non-empty string/],
      [encodeTellBatch('s/a', 'n.1', 1, [encode([inc(1), { fromDurable: 'yes' }])]), /entry 0 fromDurable must be a boolean/],
      [encodeTellBatch('s/a', 'n.1', 1, [encode([inc(1), { traceContext: { traceparent: 1 } }])]), /entry 0 traceContext must be a map of strings/],
      [encode([{ type: 'inc' }]), /envelope is not a map/],
      [Uint8Array.of(0xc1), /unsupported envelope version undefined/], // msgpackr reads the never-used byte 0xc1 as a marker object
      [Uint8Array.of(0x92, 0x01), /undecodable/],
    ];
    for (const [bytes, message] of cases) {
      expect(() => decodeTells(bytes)).toThrow(CodecError);
      expect(() => decodeTells(bytes)).toThrow(message);
    }
  });
});
