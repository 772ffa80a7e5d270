/**
 * What a workflow's trace entry means for `troupe run`'s live progress: the spinner's new text (the step, its attempt,
 * what it waits for) and, for an entry that ends something or needs a person, a line that stays. Pure: the command
 * polls the durable trace and feeds each new entry through here.
 */
import type { TraceEntry } from '../src/index.js';
import type { Mark } from './progress.js';

export interface ProgressUpdate {
  /** What the workflow is doing now, when the entry changes it. */
  readonly status?: string;
  readonly line?: { readonly mark: Mark; readonly text: string };
}

export function progressOf(entry: TraceEntry): ProgressUpdate {
  switch (entry.kind) {
    case 'step':
    case 'compensation':
      return stepProgress(entry);
    case 'escrow':
      return escrowProgress(entry);
    case 'workflow':
      // Completed and aborted are the command's own last lines, with the output.
      return entry.outcome === 'compensating' ? compensating(entry) : {};
    default:
      return {};
  }
}

/** A step or compensation, by the status it moved to (the outcome says why, which the line repeats). */
function stepProgress(e: TraceEntry): ProgressUpdate {
  const name = e.kind === 'compensation' ? `compensation ${e.step}` : e.step;
  const attempt = e.attempt > 1 ? ` (attempt ${e.attempt})` : '';
  const detail = e.detail ?? {};
  if (typeof detail['turn'] === 'number') return agentTurn(name, attempt, e, detail['turn']);
  // A step that ended hands the spinner back to the workflow until the next step's entry names it.
  const onwards = `${e.workflowId}: running`;
  switch (e.to) {
    case 'done':
      return { status: onwards, line: { mark: 'succeed', text: `${name} ${e.outcome}${e.from === 'fallback' ? ' by its fallback' : ''}${attempt}` } };
    case 'failed':
      return { status: onwards, line: { mark: 'fail', text: `${name} failed (${e.outcome})${attempt}${because(e)}` } };
    case 'skipped':
      return { status: onwards, line: { mark: 'warn', text: `${name} skipped (${e.outcome})${attempt}${because(e)}` } };
    case 'retrying': {
      const wait = e.delayMs === undefined ? '' : ` in ${duration(e.delayMs)}`;
      return {
        status: `${name}: retrying${wait} (attempt ${e.attempt} failed${because(e)})`,
        line: { mark: 'warn', text: `${name} attempt ${e.attempt} failed${because(e)}; retrying${wait}` },
      };
    }
    case 'escalated': {
      const waiting = `${name}: waiting for a person (escrow item ${String(detail['itemId'] ?? e.step)})`;
      if (e.outcome === 'sla-breached') {
        return { status: waiting, line: { mark: 'warn', text: `${name} waited past its deadline; escalated to ${String(detail['levelName'] ?? `level ${String(detail['level'])}`)}` } };
      }
      const reason = typeof detail['reason'] === 'string' ? ` (${detail['reason']})` : '';
      return { status: waiting, line: { mark: 'info', text: `${name} escalated${reason}${attempt}${because(e)}; waiting for a person` } };
    }
    case 'fallback':
      return { status: `${name}: running its fallback`, line: { mark: 'warn', text: `${name}: circuit breaker open, running its fallback` } };
    case 'running':
      return { status: `${name}${attempt}: running` };
    case 'waiting':
      return { status: `${name}${attempt}: waiting for a pool slot` };
    case 'checking':
      return { status: `${name}${attempt}: asking its circuit breaker` };
    case 'verifying':
      return { status: `${name}${attempt}: verifying the output` };
    case 'summarizing':
      return { status: `${name}: summarizing its input` };
    default:
      return {};
  }
}

/** An agent's move inside a step (`runAgent` notes): where it is now; the step's own entries say how it ended. */
function agentTurn(name: string, attempt: string, e: TraceEntry, turn: number): ProgressUpdate {
  const tools = e.detail?.['tools'];
  switch (e.to) {
    case 'acting':
      return { status: `${name}${attempt}: turn ${turn}, calling ${Array.isArray(tools) ? tools.join(', ') : 'tools'}` };
    case 'thinking':
      return { status: `${name}${attempt}: turn ${turn + 1}, thinking${e.outcome === 'rejected' ? ' again (its answer was rejected)' : ''}` };
    case 'verifying':
      return { status: `${name}${attempt}: turn ${turn}, checking its answer` };
    default:
      return { status: `${name}${attempt}: agent ${e.outcome} after ${turn} turn(s)` };
  }
}

/** The workflow failed: it undoes its completed steps (the failure itself was the step's line). */
function compensating(e: TraceEntry): ProgressUpdate {
  const steps = e.detail?.['compensations'];
  const undo = Array.isArray(steps) && steps.length > 0 ? steps.join(', ') : 'nothing to undo';
  return { status: 'compensating', line: { mark: 'warn', text: `compensating after ${e.step || 'the workflow'} failed: ${undo}` } };
}

/** An escrow item: queued (a person's turn), past its deadline, or decided. */
function escrowProgress(e: TraceEntry): ProgressUpdate {
  const item = String(e.detail?.['itemId'] ?? e.step);
  if (e.outcome === 'queued') return { status: `${e.step}: waiting for a person (escrow item ${item})` };
  if (e.outcome === 'sla-breached') return { line: { mark: 'warn', text: `escrow item ${item} past its deadline; now with ${e.to}` } };
  const by = typeof e.detail?.['by'] === 'string' ? ` by ${e.detail['by']}` : '';
  const mark: Mark = e.outcome === 'approved' ? 'succeed' : e.outcome === 'rejected' ? 'fail' : 'info';
  return { line: { mark, text: `escrow ${e.step} ${e.outcome}${by}` } };
}

const because = (e: TraceEntry) => (e.error?.message ? `: ${e.error.message}` : '');

const duration = (ms: number) => (ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`);
