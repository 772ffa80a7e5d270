/**
 * The customer-reply demo (issue 10) runs to completion in the suite: each ticket ends on the path its injected
 * fault calls for, checked against the demo's own records — the SQLite inventory and outbox, the CRM's request log,
 * the drafting model's request counts — and `npm start`'s program exits 0 with its summary table.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runDemo, summaryTable } from '../../examples/customer-reply/main.js';
import { CATALOG } from '../../examples/customer-reply/inventory.js';

const HEADER = ['ticket', 'scenario', 'status', 'path', 'model calls ok/503', 'tokens in/out', 'check'];

/** The rows of the box-drawn summary table (`│ a │ b │` lines), each as its trimmed cells; the header is the first. */
function tableRows(text: string): string[][] {
  return text.split('\n').filter((line) => line.startsWith('│')).map((line) => line.slice(1, -1).split('│').map((cell) => cell.trim()));
}

describe('the customer-reply demo (issue 10)', () => {
  it('every ticket ends on its path: retried, fallback, rejected at intake, approved by a person, compensated', async () => {
    const lines: string[] = [];
    const result = await runDemo({ log: (line) => lines.push(line), env: {} });
    const by = Object.fromEntries(result.tickets.map((t) => [t.ticket, t]));
    expect(result.tickets.map((t) => [t.ticket, t.outcome])).toEqual(result.tickets.map((t) => [t.ticket, t.expected]));

    // The CRM stalled on c-bo's first request: the history step timed out and its retry was served.
    expect(by['T-1002']).toMatchObject({ status: 'completed', retries: 1 });
    expect(result.crmRequests['c-bo']).toBe(2);
    // The provider outage: two refused calls opened the breaker; from then on the template answered, no model call.
    expect(result.breakerOpened).toBe(true);
    expect(by['T-1003']!.modelCalls.served + by['T-1004']!.modelCalls.served).toBe(0);
    expect(by['T-1003']!.modelCalls.refused + by['T-1004']!.modelCalls.refused).toBe(2);
    // The malformed ticket was refused before any call, with its cause.
    expect(by['T-1005']).toMatchObject({ status: 'aborted', compensated: [] });
    expect(by['T-1005']!.cause).toMatch(/malformed ticket: customerId: .*message: /);
    expect(result.crmRequests['']).toBeUndefined();
    // The unsure draft waited for a person, who approved it; its reply went out.
    expect(by['T-1006']).toMatchObject({ status: 'completed', escalatedTo: 'escrow (customer-facing)', decidedBy: 'Dana (support lead)' });
    // The guideline-breaking draft: three drafts of two model turns each were refused by the judge; the saga gave the
    // reserved voucher back, so it holds no reservation and sent nothing.
    expect(by['T-1007']).toMatchObject({ status: 'aborted', retries: 2, compensated: ['inventory'] });
    expect(by['T-1007']!.modelCalls).toEqual({ served: 6, refused: 0 });
    // Its three refused drafts were paid for, and the trace says so: more tokens than the one accepted draft of T-1001.
    expect(by['T-1007']!.tokens.inputTokens).toBeGreaterThan(2 * by['T-1001']!.tokens.inputTokens);
    expect(by['T-1005']!.tokens).toEqual({ inputTokens: 0, outputTokens: 0 });

    // The inventory (SQLite) agrees: one unit reserved per completed ticket, none for the aborted ones.
    const completed = result.tickets.filter((t) => t.status === 'completed').map((t) => t.ticket);
    expect(result.sent).toEqual(completed);
    expect(result.reservations.map((r) => r.ticket)).toEqual(completed);
    for (const p of CATALOG) {
      expect(result.stockAfter[p.sku]).toBe(p.stock - result.reservations.filter((r) => r.sku === p.sku).length);
    }
    expect(result.model).toMatch(/^scripted/);
    expect(lines).toContain('T-1006 route: Dana (support lead) approved it');
    const [header, ...rows] = tableRows(summaryTable(result));
    expect(header).toEqual(HEADER);
    expect(rows.find((row) => row[0] === 'T-1007')).toEqual(['T-1007', 'draft breaks a guideline', 'aborted', '2 retries; compensated inventory', '6/0', expect.stringMatching(/^\d+\/\d+$/), 'ok']);
    expect(rows.find((row) => row[0] === 'T-1006')?.[3]).toBe('approved by Dana (support lead)');
  }, 60_000);

  it('npm start\'s program prints the summary table and exits 0', async () => {
    const main = fileURLToPath(new URL('../../dist/examples/customer-reply/main.js', import.meta.url));
    const child = spawn(process.execPath, [main], { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env['PATH'] } });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => void (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const [header, ...rows] = tableRows(out);
    expect(header).toEqual(HEADER);
    expect(rows.map((row) => [row[0], row[2], row.at(-1)])).toEqual([
      ['T-1001', 'completed', 'ok'], ['T-1002', 'completed', 'ok'], ['T-1003', 'completed', 'ok'], ['T-1004', 'completed', 'ok'],
      ['T-1005', 'aborted', 'ok'], ['T-1006', 'completed', 'ok'], ['T-1007', 'aborted', 'ok'],
    ]);
    // Plain text: box-drawing borders, no colour codes in a pipe.
    expect(out).not.toMatch(/\u001b\[/);
    expect(out).toMatch(/inventory \(SQLite\): voucher-20 5 -> \d/);
    expect(out).toMatch(/drafting model: scripted \(local, offline/);
  }, 60_000);
});
