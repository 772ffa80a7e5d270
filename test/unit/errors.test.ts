import { describe, expect, it } from 'vitest';
import {
  Aborted,
  ActorFailedError,
  CodecError,
  DeadLetterError,
  DuplicateActorError,
  ShardMovedError,
  ErrorCode,
  errorFromPlain,
  errorTypeOf,
  EscalationRequired,
  InvalidAddressError,
  InvalidChildSpecError,
  InvalidConfigError,
  InvalidMessageError,
  isPlainError,
  isRetryable,
  MailboxFullError,
  NonRetryableError,
  RetryableError,
  SupervisorFailedError,
  SystemStoppedError,
  TimeoutError,
  toPlainError,
  TroupeError,
  UnknownEscrowItemError,
  ActorTerminatedError,
  UnknownLogicError,
  VersionMismatchError,
  type PlainError,
} from '../../src/index.js';
import { roundTrip } from '../../src/codec/index.js';

/** What a remote node rebuilds: plain form, through the msgpack codec, back into an error. */
function overTheWire(error: unknown): { plain: PlainError; rebuilt: Error } {
  const plain = toPlainError(error);
  const received = roundTrip(plain);
  return { plain, rebuilt: errorFromPlain(received) };
}

const every: [string, TroupeError][] = [
  ['RetryableError', new RetryableError('503 from crm', { retryAfterMs: 1_500, type: 'HttpError', cause: new Error('socket hang up') })],
  ['NonRetryableError', new NonRetryableError('bad input', { type: 'ValidationError' })],
  ['TimeoutError', new TimeoutError('ask timed out', 5_000)],
  ['EscalationRequired', new EscalationRequired('low confidence', { confidence: 0.4, stepId: 'classify' })],
  ['Aborted', new Aborted('critical step failed', { stepId: 'charge' })],
  ['DeadLetterError', new DeadLetterError('s/a', 'no actor at this address')],
  ['InvalidMessageError', new InvalidMessageError('$.f', 'functions cannot be sent')],
  ['MailboxFullError', new MailboxFullError('s/a', 3)],
  ['InvalidAddressError', new InvalidAddressError('a.b', 'bad segment')],
  ['InvalidConfigError', new InvalidConfigError('mailboxCapacity', 'must be an integer >= 1')],
  ['InvalidChildSpecError', new InvalidChildSpecError('s/a', 'restart', 'must be one of ...')],
  ['UnknownLogicError', new UnknownLogicError('ticket')],
  ['DuplicateActorError', new DuplicateActorError('s/a')],
  ['ActorFailedError', new ActorFailedError('s/a', 'actor-error', { cause: new Error('boom') })],
  ['SupervisorFailedError', new SupervisorFailedError('s/sup', 'intensity exceeded', { offender: 's/sup/a' }, { cause: new ActorFailedError('s/sup/a', 'actor-error') })],
  ['SystemStoppedError', new SystemStoppedError('s')],
  ['VersionMismatchError', new VersionMismatchError('v2 snapshot under v1', { from: 2, to: 1 })],
  ['CodecError', new CodecError('bad bytes')],
  ['ShardMovedError', new ShardMovedError('s/c1', 3, 'epoch 4 is newer')],
  ['UnknownEscrowItemError', new UnknownEscrowItemError('s/escrow', 'ticket-1/draft/1')],
  ['ActorTerminatedError', new ActorTerminatedError('s/a', 'done')],
];

describe('typed errors', () => {
  it.each(every)('%s has its own name, a stable code and is a TroupeError', (name, error) => {
    expect(error.name).toBe(name);
    expect(Object.values(ErrorCode)).toContain(error.code);
    expect(error).toBeInstanceOf(TroupeError);
    expect(TroupeError.is(error)).toBe(true);
    expect(error.toPlain()).toEqual(toPlainError(error));
  });

  it('gives every class a distinct code', () => {
    const codes = every.map(([, error]) => error.code);
    expect(new Set(codes).size).toBe(codes.length);
  });

  it.each(every)('%s survives the wire with name, code, message, data and cause', (_name, error) => {
    const { plain, rebuilt } = overTheWire(error);
    expect(isPlainError(plain)).toBe(true);
    expect(rebuilt.name).toBe(error.name);
    expect((rebuilt as TroupeError).code).toBe(error.code);
    expect(rebuilt.message).toBe(error.message);
    expect((rebuilt as TroupeError).data).toEqual(plain.data);
    // The rebuilt error turns into the same plain form again: nothing is lost on a second hop.
    expect(toPlainError(rebuilt)).toEqual(plain);
    if (error.cause !== undefined) {
      expect(rebuilt.cause).toBeInstanceOf(Error);
      expect((rebuilt.cause as Error).message).toBe((error.cause as Error).message);
    }
  });

  it('a shard that moved names the actor and the shard, on both sides of the wire (issue 9)', () => {
    const error = new ShardMovedError('support/c1', 3, 'its record was written under epoch 5');
    expect(error.message).toBe('durable actor support/c1: shard 3 is held by another node (its record was written under epoch 5)');
    const { rebuilt } = overTheWire(error);
    expect(rebuilt).toBeInstanceOf(ShardMovedError);
    expect(rebuilt).toMatchObject({ address: 'support/c1', shard: 3, code: 'TROUPE_SHARD_MOVED' });
  });

  it('rebuilds the error kinds callers branch on as their own classes', () => {
    const retry = overTheWire(every[0]![1]).rebuilt;
    expect(retry).toBeInstanceOf(RetryableError);
    expect((retry as RetryableError).retryAfterMs).toBe(1_500);
    expect(errorTypeOf(retry)).toBe('HttpError');
    expect(overTheWire(new NonRetryableError('x')).rebuilt).toBeInstanceOf(NonRetryableError);
    const timeout = overTheWire(new TimeoutError('t', 250)).rebuilt;
    expect(timeout).toBeInstanceOf(TimeoutError);
    expect((timeout as TimeoutError).timeoutMs).toBe(250);
    expect(overTheWire(new EscalationRequired('e', { a: 1 })).rebuilt).toBeInstanceOf(EscalationRequired);
    expect(overTheWire(new Aborted('a')).rebuilt).toBeInstanceOf(Aborted);
  });

  it('rebuilds the other Troupe kinds on their own class, with their message and fields, so instanceof holds across nodes', () => {
    const { rebuilt } = overTheWire(new MailboxFullError('s/a', 3));
    expect(rebuilt).toBeInstanceOf(MailboxFullError);
    expect(rebuilt).toBeInstanceOf(TroupeError);
    expect(rebuilt.name).toBe('MailboxFullError');
    expect(rebuilt.message).toBe('mailbox of s/a is full (capacity 3)');
    expect((rebuilt as MailboxFullError).code).toBe(ErrorCode.MailboxFull);
    expect((rebuilt as MailboxFullError).capacity).toBe(3);
    expect((rebuilt as MailboxFullError).data).toEqual({ to: 's/a', capacity: 3 });
    const dead = overTheWire(new DeadLetterError('s/b', 'no actor at this address')).rebuilt;
    expect(dead).toBeInstanceOf(DeadLetterError);
    expect([(dead as DeadLetterError).to, (dead as DeadLetterError).reason]).toEqual(['s/b', 'no actor at this address']);
    const failed = overTheWire(new ActorFailedError('s/c', 'actor-error', { cause: new Error('boom') })).rebuilt;
    expect(failed).toBeInstanceOf(ActorFailedError);
    expect([(failed as ActorFailedError).address, (failed as ActorFailedError).kind, (failed.cause as Error).message]).toEqual(['s/c', 'actor-error', 'boom']);
  });

  it('keeps a cause chain across the wire', () => {
    const root = new TypeError('undefined is not a function');
    const middle = new ActorFailedError('s/a', 'actor-error', { cause: root });
    const top = new SupervisorFailedError('s', 'intensity exceeded', { offender: 's/a' }, { cause: middle });
    const { plain, rebuilt } = overTheWire(top);
    expect(plain.cause?.name).toBe('ActorFailedError');
    expect(plain.cause?.data).toEqual({ address: 's/a', kind: 'actor-error' });
    expect(plain.cause?.cause).toEqual({ _tag: 'TroupeError', name: 'TypeError', code: 'ERROR', message: 'undefined is not a function' });
    const cause = rebuilt.cause as TroupeError;
    expect(cause.name).toBe('ActorFailedError');
    expect((cause.cause as Error).name).toBe('TypeError');
    expect(cause.cause).not.toBeInstanceOf(TroupeError); // a foreign error stays foreign
    expect(isRetryable(cause.cause)).toBe(false);
  });

  it('bounds a self-referencing cause chain', () => {
    const error = new Error('loop');
    (error as { cause?: unknown }).cause = error;
    let depth = 0;
    for (let p: PlainError | undefined = toPlainError(error); p; p = p.cause) depth++;
    expect(depth).toBeLessThanOrEqual(5);
  });

  it('keeps the string code of a foreign error (Node system errors)', () => {
    const error = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(toPlainError(error)).toMatchObject({ name: 'Error', code: 'ECONNRESET', message: 'read ECONNRESET' });
  });

  it('turns thrown non-errors into a NonError plain form', () => {
    expect(toPlainError('just a string')).toEqual({ _tag: 'TroupeError', name: 'NonError', code: 'NON_ERROR', message: 'just a string' });
    expect(toPlainError({ status: 500 }).message).toBe('{"status":500}');
    expect(toPlainError(undefined).message).toBe('undefined');
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(toPlainError(cyclic).name).toBe('NonError');
  });

  it('passes a plain error through toPlainError unchanged', () => {
    const plain = toPlainError(new TimeoutError('t', 1));
    expect(toPlainError(plain)).toBe(plain);
  });

  it('keeps data plain: nested values are copied, undefined fields dropped', () => {
    const data = { nested: { n: 1 } };
    const plain = toPlainError(new EscalationRequired('e', data));
    data.nested.n = 2;
    expect(plain.data).toEqual({ nested: { n: 1 } });
    expect(toPlainError(new RetryableError('r')).data).toEqual({});
  });
});

describe('isRetryable', () => {
  it.each([
    ['a NonRetryableError', new NonRetryableError('no'), false],
    ['an InvalidMessageError', new InvalidMessageError('$', 'x'), false],
    ['Aborted', new Aborted('stop'), false],
    ['a TypeError (programmer error)', new TypeError('x'), false],
    ['a ReferenceError', new ReferenceError('x'), false],
    ['a SyntaxError', new SyntaxError('x'), false],
    ['a RangeError', new RangeError('x'), false],
    ['a RetryableError', new RetryableError('503'), true],
    ['a TimeoutError', new TimeoutError('t', 1), true],
    ['a plain Error', new Error('flaky'), true],
    ['a thrown string', 'oops', true],
  ])('%s -> %s', (_what, error, expected) => {
    expect(isRetryable(error)).toBe(expected);
  });

  it('applies the same rules to plain forms and to errors rebuilt from the wire', () => {
    expect(isRetryable(toPlainError(new NonRetryableError('no')))).toBe(false);
    expect(isRetryable(toPlainError(new TypeError('x')))).toBe(false);
    expect(isRetryable(toPlainError(new RetryableError('r')))).toBe(true);
    expect(isRetryable(overTheWire(new NonRetryableError('no')).rebuilt)).toBe(false);
    expect(isRetryable(overTheWire(new Aborted('a')).rebuilt)).toBe(false);
    expect(isRetryable(overTheWire(new InvalidMessageError('$', 'x')).rebuilt)).toBe(false);
  });

  it('errorTypeOf prefers an explicit type over the name', () => {
    expect(errorTypeOf(new NonRetryableError('x', { type: 'Validation' }))).toBe('Validation');
    expect(errorTypeOf(new TimeoutError('t', 1))).toBe('TimeoutError');
    expect(errorTypeOf(toPlainError(new RetryableError('r', { type: 'Http' })))).toBe('Http');
    expect(errorTypeOf(new TypeError('x'))).toBe('TypeError');
    expect(errorTypeOf(42)).toBe('NonError');
  });
});
