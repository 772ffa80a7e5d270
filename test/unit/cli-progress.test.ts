/**
 * `troupe run`'s live progress (issue 10): what each kind of trace entry shows (cli/trace-progress.ts), and what ora
 * writes through cli/progress.ts on a stream that is not a terminal, a terminal nobody sized, and a terminal.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { PlainError, TraceEntry } from '../../src/index.js';
import { createProgress } from '../../cli/progress.js';
import { progressOf } from '../../cli/trace-progress.js';

const entry = (e: Partial<TraceEntry> & Pick<TraceEntry, 'kind' | 'to' | 'outcome'>): TraceEntry =>
  ({ workflowId: 'w1', step: 'draft', attempt: 1, from: 'running', at: 0, ...e });

const plain = (message: string): PlainError => ({ _tag: 'TroupeError', name: 'Error', code: 'TROUPE_UNKNOWN', message });

/** A stream that keeps what is written; `tty` makes it look like a terminal of that width to ora. */
function sink(tty?: { columns: number }): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = new Writable({ write: (chunk: Buffer, _encoding, done) => void ((text += chunk.toString()), done()) });
  if (tty) Object.assign(stream, { isTTY: true, columns: tty.columns, rows: 24, cursorTo: () => true, moveCursor: () => true, clearLine: () => true });
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => text };
}

describe('troupe run progress (issue 10)', () => {
  it('a step\'s waits are the spinner\'s text; its end, retries, escalations, decisions and compensations are lines', () => {
    expect(progressOf(entry({ kind: 'step', from: 'pending', to: 'running', outcome: 'started' }))).toEqual({ status: 'draft: running' });
    expect(progressOf(entry({ kind: 'step', to: 'retrying', outcome: 'retrying', delayMs: 1_500, error: plain('crm timed out') }))).toEqual({
      status: 'draft: retrying in 1.5 s (attempt 1 failed: crm timed out)',
      line: { mark: 'warn', text: 'draft attempt 1 failed: crm timed out; retrying in 1.5 s' },
    });
    expect(progressOf(entry({ kind: 'step', to: 'escalated', outcome: 'escalated', detail: { reason: 'low-confidence', itemId: 'w1/draft/1' } }))).toEqual({
      status: 'draft: waiting for a person (escrow item w1/draft/1)',
      line: { mark: 'info', text: 'draft escalated (low-confidence); waiting for a person' },
    });
    expect(progressOf(entry({ kind: 'escrow', from: 'operator', to: 'approved', outcome: 'approved', attempt: 0, detail: { itemId: 'w1/draft/1', by: 'dana' } })).line)
      .toEqual({ mark: 'succeed', text: 'escrow draft approved by dana' });
    expect(progressOf(entry({ kind: 'step', from: 'escalated', to: 'done', outcome: 'approved', attempt: 2 })).line).toEqual({ mark: 'succeed', text: 'draft approved (attempt 2)' });
    expect(progressOf(entry({ kind: 'step', to: 'failed', outcome: 'failed-permanently', error: plain('no') })).line).toEqual({ mark: 'fail', text: 'draft failed (failed-permanently): no' });
    expect(progressOf(entry({ kind: 'workflow', step: 'send', to: 'compensating', outcome: 'compensating', detail: { compensations: ['reserve'] } }))).toEqual({
      status: 'compensating',
      line: { mark: 'warn', text: 'compensating after send failed: reserve' },
    });
    expect(progressOf(entry({ kind: 'compensation', step: 'reserve', to: 'done', outcome: 'succeeded' })).line).toEqual({ mark: 'succeed', text: 'compensation reserve succeeded' });
    // An agent's turns inside the step (runAgent's notes) move the spinner, with no line of their own.
    expect(progressOf(entry({ kind: 'step', from: 'thinking', to: 'acting', outcome: 'tool-calls', detail: { turn: 1, tools: ['lookupOrder', 'refund'] } })))
      .toEqual({ status: 'draft: turn 1, calling lookupOrder, refund' });
    expect(progressOf(entry({ kind: 'step', from: 'verifying', to: 'thinking', outcome: 'rejected', attempt: 2, detail: { turn: 2 } })))
      .toEqual({ status: 'draft (attempt 2): turn 3, thinking again (its answer was rejected)' });
    expect(progressOf(entry({ kind: 'step', from: 'thinking', to: 'escalated', outcome: 'max-turns', detail: { turn: 8 } })))
      .toEqual({ status: 'draft: agent max-turns after 8 turn(s)' });
    // A handoff or the workflow's own end changes nothing here: the command prints the end itself.
    expect(progressOf(entry({ kind: 'handoff', to: 'draft', outcome: 'passed' }))).toEqual({});
    expect(progressOf(entry({ kind: 'workflow', to: 'completed', outcome: 'completed' }))).toEqual({});
  });

  it('off a terminal: the lines that stay, plain, on the given stream; no spinner text, no escape codes', () => {
    const out = sink();
    const progress = createProgress(out.stream);
    progress.status('draft: running');
    progress.persist('succeed', 'draft succeeded');
    progress.status('send: running');
    progress.persist('fail', 'send failed (exhausted): no');
    progress.stop();
    expect(out.text()).toBe('✔ draft succeeded\n✖ send failed (exhausted): no\n');
  });

  it('on a terminal that reports no width: plain lines too (ora would clear lines without end)', () => {
    const out = sink({ columns: 0 });
    const progress = createProgress(out.stream);
    progress.status('draft: running');
    progress.persist('info', 'draft escalated');
    progress.stop();
    expect(out.text()).toBe('ℹ draft escalated\n');
  });

  it('on a terminal: the spinner shows what happens now, and the lines stay above it', () => {
    // ora spins on a TTY unless TERM is dumb or CI is set (is-interactive, read when the spinner is made).
    const { CI, TERM } = process.env;
    delete process.env['CI'];
    process.env['TERM'] = 'xterm-256color';
    const out = sink({ columns: 80 });
    let progress;
    try {
      progress = createProgress(out.stream);
    } finally {
      if (CI !== undefined) process.env['CI'] = CI;
      if (TERM === undefined) delete process.env['TERM'];
      else process.env['TERM'] = TERM;
    }
    progress.status('draft: waiting for a person (escrow item w1/draft/1)');
    progress.persist('succeed', 'escrow draft approved by dana');
    progress.stop();
    expect(out.text()).toContain('draft: waiting for a person (escrow item w1/draft/1)');
    expect(out.text()).toMatch(/✔.* escrow draft approved by dana\n/);
    expect(out.text()).toContain('\u001b[?25h'); // the cursor is shown again
  });
});
