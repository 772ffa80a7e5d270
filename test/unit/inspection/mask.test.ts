import { describe, expect, it } from 'vitest';
import { createMasker, MASKED } from '../../../src/inspection/mask.js';

describe('inspection masks', () => {
  const snapshot = {
    context: { customer: { email: 'ana@example.com', name: 'Ana' }, password: 'hunter2', items: [{ card: '4111', sku: 'a' }, { card: '5500', sku: 'b' }] },
    value: 'active',
  };

  it('masks exact paths, one-key wildcards (array indices included) and any-depth wildcards, under the right root only', () => {
    const mask = createMasker(['snapshot.context.customer.email', 'snapshot.context.items.*.card', '**.password'])!;
    expect(mask('snapshot', snapshot)).toEqual({
      context: { customer: { email: MASKED, name: 'Ana' }, password: MASKED, items: [{ card: MASKED, sku: 'a' }, { card: MASKED, sku: 'b' }] },
      value: 'active',
    });
    // 'snapshot.*' paths do not apply to events; '**.password' applies everywhere.
    expect(mask('event', { type: 'login', customer: { email: 'x@y' }, password: 'p' })).toEqual({ type: 'login', customer: { email: 'x@y' }, password: MASKED });
  });

  it('never mutates its input and returns the same object when nothing matched', () => {
    const mask = createMasker(['snapshot.context.customer.email'])!;
    const before = JSON.stringify(snapshot);
    const masked = mask('snapshot', snapshot);
    expect(JSON.stringify(snapshot)).toBe(before);
    expect(masked).not.toBe(snapshot);
    expect(masked.context.items).toBe(snapshot.context.items); // untouched branches are shared, not copied
    const untouched = { context: { other: 1 } };
    expect(mask('snapshot', untouched)).toBe(untouched);
  });

  it('is absent when no paths are configured, and names a malformed path', () => {
    expect(createMasker(undefined)).toBeUndefined();
    expect(createMasker([])).toBeUndefined();
    expect(() => createMasker(['snapshot..email'])).toThrow(/mask\[0\]/);
    expect(() => createMasker(['ok.path', ''])).toThrow(/mask\[1\]/);
  });
});
