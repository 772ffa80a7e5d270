/**
 * Inspection's plain-data copy (src/inspection/convert.ts): a true cycle is cut, a value shared by two fields is
 * kept at both (a workflow's `results` and its steps' outputs share objects: the inspector lost them as '[cycle]').
 */
import { describe, expect, it } from 'vitest';
import { toPlain } from '../../src/inspection/convert.js';

describe('toPlain', () => {
  it('keeps a shared value at every place it appears', () => {
    const output = { text: 'hello' };
    expect(toPlain({ results: { draft: output }, steps: { draft: { output } }, list: [output, output] })).toEqual({
      results: { draft: { text: 'hello' } }, steps: { draft: { output: { text: 'hello' } } }, list: [{ text: 'hello' }, { text: 'hello' }],
    });
  });

  it('cuts a true cycle, and honours toJSON', () => {
    const node: Record<string, unknown> = { name: 'a' };
    node['self'] = node;
    node['child'] = { parent: node, n: 1n };
    expect(toPlain(node)).toEqual({ name: 'a', self: '[cycle]', child: { parent: '[cycle]', n: '1' } });
    expect(toPlain({ when: { toJSON: () => ({ at: 5 }) }, shared: [{ toJSON: () => 'x' }] })).toEqual({ when: { at: 5 }, shared: ['x'] });
  });
});
