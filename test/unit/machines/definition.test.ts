import { describe, expect, test } from 'vitest';
import { InvalidConfigError } from '../../../src/errors.js';
import { parallel, sequence, step, workflow, WorkflowDefinitionError } from '../../../machines/index.js';

const ok = async () => 1;

function problem(build: () => unknown): WorkflowDefinitionError {
  try {
    build();
  } catch (error) {
    if (error instanceof WorkflowDefinitionError) return error;
    throw error;
  }
  throw new Error('expected a WorkflowDefinitionError');
}

describe('workflow definition validation (issue 3)', () => {
  test('errors are typed and name the step and the field', () => {
    const e = problem(() => workflow('w', { steps: [step('send', ok, { retry: { maximumAttempts: 0 } })] }));
    expect(e).toBeInstanceOf(InvalidConfigError);
    expect(e).toMatchObject({ code: 'TROUPE_INVALID_CONFIG', stepId: 'send', stepField: 'retry.maximumAttempts', field: 'steps.send.retry.maximumAttempts' });
    expect(e.message).toBe('invalid steps.send.retry.maximumAttempts: must be an integer >= 1');
  });

  test.each([
    ['duplicate ids', () => workflow('w', { steps: [step('a', ok), parallel([step('b', ok), step('a', ok)])] }), 'a', 'id'],
    ['unknown handoff reference', () => workflow('w', { steps: [step('a', ok), step('b', ok, { from: ['nope'] })] }), 'b', 'from[0]'],
    ['reference to a step that does not finish first', () => workflow('w', { steps: [parallel([step('a', ok), step('b', ok, { from: ['a'] })])] }), 'b', 'from[0]'],
    ['reference to a later step', () => workflow('w', { steps: [step('a', ok, { from: ['b'] }), step('b', ok)] }), 'a', 'from[0]'],
    ['id not address-safe', () => workflow('w', { steps: [step('a/b', ok)] }), 'a/b', 'id'],
    ['negative interval', () => workflow('w', { steps: [step('a', ok, { retry: { initialInterval: -1 } })] }), 'a', 'retry.initialInterval'],
    ['coefficient below 1', () => workflow('w', { steps: [step('a', ok, { retry: { backoffCoefficient: 0.5 } })] }), 'a', 'retry.backoffCoefficient'],
    ['maximum below initial', () => workflow('w', { steps: [step('a', ok, { retry: { initialInterval: 10, maximumInterval: 5 } })] }), 'a', 'retry.maximumInterval'],
    ['jitter above 1', () => workflow('w', { steps: [step('a', ok, { retry: { jitter: 2 } })] }), 'a', 'retry.jitter'],
    ['bad onExhausted', () => workflow('w', { steps: [step('a', ok, { retry: { onExhausted: 'panic' as never } })] }), 'a', 'retry.onExhausted'],
    ['zero timeout', () => workflow('w', { steps: [step('a', ok, { startToCloseMs: 0 })] }), 'a', 'startToCloseMs'],
    ['confidence above 1', () => workflow('w', { steps: [step('a', ok, { minConfidence: 85 })] }), 'a', 'minConfidence'],
    ['run not a function', () => workflow('w', { steps: [step('a', 'fetch' as never)] }), 'a', 'run'],
    ['compensation retry', () => workflow('w', { steps: [step('a', ok, { compensate: { run: ok, retry: { maximumAttempts: 1.5 } } })] }), 'a', 'compensate.retry.maximumAttempts'],
    ['empty parallel group', () => workflow('w', { steps: [parallel([], { id: 'g' })] }), 'g', 'branches'],
    ['empty sequence', () => workflow('w', { steps: [sequence('s', [])] }), 's', 'steps'],
    // The final state of every sequence is named `end`: a step of that name was replaced by it (XState then threw
    // "Child state node '#troupe:item:1' does not exist" on the first run).
    ['a step named end', () => workflow('w', { steps: [step('a', ok), step('end', ok)] }), 'end', 'id'],
    // The top-level items are the root's states, beside the workflow's own; nested, the names are free.
    ['a top-level step named completed', () => workflow('w', { steps: [step('completed', ok)] }), 'completed', 'id'],
    ['a top-level sequence named aborted', () => workflow('w', { steps: [sequence('aborted', [step('a', ok)])] }), 'aborted', 'id'],
    ['a top-level group named compensating', () => workflow('w', { steps: [parallel([step('a', ok)], { id: 'compensating' })] }), 'compensating', 'id'],
    ['a group named end', () => workflow('w', { steps: [sequence('s', [step('a', ok)]), parallel([step('b', ok)], { id: 'end' })] }), 'end', 'id'],
  ])('%s', (_name, build, stepId, stepField) => {
    expect(problem(build)).toMatchObject({ stepId, stepField });
  });

  test('a nested item may be named like a state of the workflow', () => {
    expect(() => workflow('w', { steps: [sequence('s', [step('completed', ok), step('aborted', ok)])] })).not.toThrow();
  });

  test('unnamed parallel groups in different sequences do not collide', () => {
    expect(() => workflow('w', { steps: [sequence('x', [parallel([step('a', ok)])]), sequence('y', [parallel([step('b', ok)])])] })).not.toThrow();
    expect(problem(() => workflow('w', { steps: [parallel([step('a', ok)]), step('parallel-0', ok)] }))).toMatchObject({ stepId: 'parallel-0', stepField: 'id' });
  });

  test('workflow-level fields are named without a step', () => {
    expect(problem(() => workflow('w', { steps: [] }))).toMatchObject({ stepId: '', field: 'steps' });
    expect(problem(() => workflow('w', { steps: [step('a', ok)], tokenBudget: 0 }))).toMatchObject({ field: 'tokenBudget' });
  });

  test('a valid definition with every kind of node builds and lists its steps', () => {
    const wf = workflow('customer-reply', {
      steps: [
        step('history', ok, { retry: { maximumAttempts: 3 } }),
        parallel([step('sentiment', ok, { minConfidence: 0.85 }), step('inventory', ok)]),
        sequence('compose', [step('draft', ok, { verify: () => true, compensate: ok }), step('polish', ok, { from: ['draft', 'history'] })]),
        step('send', ok, { critical: true, compensate: ok, escalation: { tier: 'customer-facing' } }),
      ],
    });
    expect(wf.stepIds).toEqual(['history', 'sentiment', 'inventory', 'draft', 'polish', 'send']);
  });
});
