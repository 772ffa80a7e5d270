import { describe, expect, it } from 'vitest';
import { CodecError } from '../../src/index.js';
import {
  decode,
  decodeEnvelope,
  decodeEventEnvelope,
  encode,
  encodeEnvelope,
  ENVELOPE_VERSION,
  eventEnvelope,
  findNonPlainData,
  roundTrip,
  type Envelope,
} from '../../src/codec/index.js';

const envelope: Envelope = {
  v: ENVELOPE_VERSION,
  id: 'n1-42',
  to: 'support/ticket-42',
  from: 'support/triage',
  type: 'classify',
  payload: { text: 'hello', tags: ['a', 'b'], at: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2, 3]), nothing: null, missing: undefined, nested: [[1], [2, [3]]] },
  correlationId: 'c-1',
  replyTo: 'support/$reply/7',
  traceId: 't-9',
  ts: 1_700_000_000_123,
};

/** Encodes `fields` as a map (no validation on the way out), to hand-craft bad envelopes. */
function raw(fields: Record<string, unknown>): Uint8Array {
  return encode(fields);
}

function codecError(bytes: Uint8Array): CodecError {
  try {
    decodeEnvelope(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(CodecError);
    return error as CodecError;
  }
  throw new Error('decodeEnvelope accepted bad bytes');
}

describe('envelope codec', () => {
  it('round-trips an envelope with every field, keeping Dates, bytes, null, undefined and nested arrays', () => {
    const decoded = decodeEnvelope(encodeEnvelope(envelope));
    const { payload, ...rest } = decoded;
    const { payload: sent, ...sentRest } = envelope;
    expect(rest).toEqual(sentRest);
    const p = payload as Record<string, unknown>;
    expect(p['text']).toBe('hello');
    expect(p['tags']).toEqual(['a', 'b']);
    expect(p['at']).toBeInstanceOf(Date);
    expect((p['at'] as Date).getTime()).toBe(1_700_000_000_000);
    expect(p['bytes']).toBeInstanceOf(Uint8Array);
    expect([...(p['bytes'] as Uint8Array)]).toEqual([1, 2, 3]);
    expect(p['nothing']).toBeNull();
    expect('missing' in p && p['missing'] === undefined).toBe(true);
    expect(p['nested']).toEqual((sent as Record<string, unknown>)['nested']);
  });

  it('round-trips a minimal envelope (optional fields absent)', () => {
    const minimal: Envelope = { v: ENVELOPE_VERSION, id: '1', to: 's/a', type: 'ping', payload: undefined, ts: 0 };
    expect(decodeEnvelope(encodeEnvelope(minimal))).toEqual(minimal);
  });

  it.each([
    ['truncated bytes', encodeEnvelope(envelope).subarray(0, 20)],
    ['no bytes', new Uint8Array(0)],
    ['trailing garbage', new Uint8Array([0xff, 0xff, 0xff])],
    ['an unused msgpack type byte', new Uint8Array([0xc1])],
    ['a string', encode('hello')],
    ['an array', encode([1, 2, 3])],
    ['nil', encode(null)],
  ])('rejects %s with CodecError', (_what, bytes) => {
    codecError(bytes);
  });

  it('rejects a wrong or missing version, naming it', () => {
    expect(codecError(raw({ ...envelope, v: 2 })).message).toMatch(/version 2/);
    const { v: _v, ...noVersion } = envelope;
    expect(codecError(raw(noVersion)).message).toMatch(/version/);
  });

  it.each(['id', 'to', 'type'] as const)('rejects a missing or empty %s, naming the field', (field) => {
    const { [field]: _omit, ...missing } = envelope;
    expect(codecError(raw(missing)).message).toContain(`envelope.${field}`);
    expect(codecError(raw({ ...envelope, [field]: '' })).message).toContain(`envelope.${field}`);
    expect(codecError(raw({ ...envelope, [field]: 7 })).message).toContain(`envelope.${field}`);
  });

  it.each(['from', 'correlationId', 'replyTo', 'traceId'] as const)('rejects a non-string %s, naming the field', (field) => {
    expect(codecError(raw({ ...envelope, [field]: 12 })).message).toContain(`envelope.${field}`);
  });

  it('rejects a missing or non-numeric ts', () => {
    const { ts: _ts, ...noTs } = envelope;
    expect(codecError(raw(noTs)).message).toContain('envelope.ts');
    expect(codecError(raw({ ...envelope, ts: 'now' })).message).toContain('envelope.ts');
  });

  it('rejects a payload that decodes to something other than plain data', () => {
    // The payload is the last field: swap its one-character string (0xa1 'X') for the unused type byte 0xc1.
    const bytes = encode({ v: ENVELOPE_VERSION, id: '1', to: 's/a', type: 't', ts: 1, payload: 'X' });
    expect([...bytes.subarray(-2)]).toEqual([0xa1, 0x58]);
    const tampered = new Uint8Array([...bytes.subarray(0, -2), 0xc1]);
    expect(codecError(tampered).message).toMatch(/envelope\.payload is not plain data at \$/);
  });

  it('wraps decoder failures with the cause kept', () => {
    try {
      decode(new Uint8Array([0x92, 0x01]));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).code).toBe('TROUPE_CODEC');
      expect((error as CodecError).cause).toBeInstanceOf(Error);
    }
  });

  it('roundTrip returns a copy a remote node would see', () => {
    const value = { a: [1, { b: 'c' }], d: new Date(5) };
    const copy = roundTrip(value);
    expect(copy).not.toBe(value);
    expect(copy.a).toEqual(value.a);
    expect(copy.d.getTime()).toBe(5);
  });
});

describe('event envelopes', () => {
  it('round-trip an event with its sender and correlation id, and leave out what is absent', () => {
    const sent = eventEnvelope('n.1', 's/a', { type: 'inc', n: 2 } as { type: string }, 5, { from: 's/b', correlationId: 'n.1' });
    expect(decodeEventEnvelope(encodeEnvelope(sent))).toEqual({ v: ENVELOPE_VERSION, id: 'n.1', to: 's/a', type: 'inc', payload: { type: 'inc', n: 2 }, ts: 5, from: 's/b', correlationId: 'n.1' });
    expect(Object.keys(eventEnvelope('n.2', 's/a', { type: 'inc' }, 5))).toEqual(['v', 'id', 'to', 'type', 'payload', 'ts']);
  });

  it('reject a payload that is not the event the envelope type names', () => {
    for (const payload of [null, 'inc', { type: 'other' }, { n: 1 }]) {
      const bytes = encode({ v: ENVELOPE_VERSION, id: '1', to: 's/a', type: 'inc', payload, ts: 1 });
      expect(() => decodeEventEnvelope(bytes)).toThrow(CodecError);
      expect(() => decodeEventEnvelope(bytes)).toThrow(/not the event its type names/);
      expect(decodeEnvelope(bytes).payload).toEqual(payload); // a plain envelope may carry any plain data
    }
  });
});

describe('findNonPlainData', () => {
  class Money {
    constructor(readonly cents: number) {}
  }

  it.each([
    ['a top-level function', () => 1, '$', /function/],
    ['a function in an object', { type: 'x', f: () => 1 }, '$.f', /function/],
    ['a function nested in arrays', { type: 'x', list: [1, [2, () => 3]] }, '$.list[1][1]', /function/],
    ['a class instance', { type: 'x', price: new Money(5) }, '$.price', /Money/],
    ['a Map', { type: 'x', m: new Map([['a', 1]]) }, '$.m', /Map/],
    ['a Set', { type: 'x', deep: { s: new Set([1]) } }, '$.deep.s', /Set/],
    ['an Error', { type: 'x', error: new Error('no') }, '$.error', /Error/],
    ['a symbol value', { type: 'x', s: Symbol('s') }, '$.s', /symbol/],
    ['a symbol in an array', [Symbol('s')], '$[0]', /symbol/],
    ['a symbol key', { type: 'x', inner: { [Symbol('k')]: 1 } }, '$.inner', /symbol keys/],
  ])('finds %s with its path', (_what, value, path, reason) => {
    const problem = findNonPlainData(value);
    expect(problem?.path).toBe(path);
    expect(problem?.reason).toMatch(reason);
  });

  it('finds cycles through objects and arrays', () => {
    const object: Record<string, unknown> = { type: 'x', child: { n: 1 } };
    (object['child'] as Record<string, unknown>)['parent'] = object;
    expect(findNonPlainData(object)).toEqual({ path: '$.child.parent', reason: 'cycle' });
    const array: unknown[] = [1];
    array.push([array]);
    expect(findNonPlainData(array)).toEqual({ path: '$[1][0]', reason: 'cycle' });
  });

  it('accepts a shared (acyclic) reference', () => {
    const shared = { n: 1 };
    expect(findNonPlainData({ a: shared, b: [shared, shared] })).toBeUndefined();
  });

  it('rejects nesting deeper than 64 levels', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 70; i++) deep = { d: deep };
    expect(findNonPlainData(deep)?.reason).toMatch(/deeper than 64/);
  });

  it('accepts plain data: primitives, null, undefined, bigint, NaN, Dates, byte arrays, null-prototype objects', () => {
    for (const value of [
      null,
      undefined,
      0,
      Number.NaN,
      'text',
      true,
      10n,
      new Date(0),
      new Uint8Array([1]),
      Buffer.from('ab'),
      Object.assign(Object.create(null) as object, { a: 1 }),
      { type: 'x', nested: [[1, [2, [3]]], { at: new Date(1), bytes: new Uint8Array(2), none: null }] },
    ]) {
      expect(findNonPlainData(value)).toBeUndefined();
    }
  });
});
