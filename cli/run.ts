/**
 * `troupe run <logic> --input <json>`: starts a durable workflow on a running system (a spawn request its shard's
 * owner picks up) and follows it in the durable trace until it ends: a spinner with the current step, attempt and
 * wait on a terminal, a line per finished step, escalation, escrow decision and compensation (stdout, also off a
 * terminal), then its status and output. With `--json`, one JSON line and nothing else. Exit 0 when it completed,
 * 1 when it aborted or did not end within `--timeout`.
 */
import type { TroupeSystem } from '../src/index.js';
import { EXIT } from './exit.js';
import { createProgress, type Progress } from './progress.js';
import { progressOf } from './trace-progress.js';

export interface RunOptions {
  readonly input?: unknown;
  readonly id?: string;
  readonly timeout: number;
  readonly json: boolean;
}

type Output = (text: string) => void;

/** How often the trace is read while the workflow runs. */
const POLL_MS = 250;

const SILENT: Progress = { status: () => {}, persist: () => {}, stop: () => {} };

export async function runWorkflow(system: TroupeSystem, logic: string, options: RunOptions, out: Output): Promise<number> {
  const id = options.id ?? `${logic}-${Date.now().toString(36)}`;
  const address = `${system.name}/${id}`;
  system.spawn(logic, { id, durable: true, input: { workflowId: id, address, input: options.input } });
  if (!options.json) out(`started ${address}\n`);
  const progress = options.json ? SILENT : createProgress();
  let output: { status?: string } | undefined;
  try {
    progress.status(`${address}: waiting for a node to start it`);
    output = await follow(system, id, system.result<{ status?: string }>(address, { timeoutMs: options.timeout }), progress);
  } finally {
    progress.stop();
  }
  // Only a completed run gets here: `result()` rejects an aborted one with its cause (reported as a failure, exit 1).
  out(options.json ? `${JSON.stringify({ workflowId: id, output })}\n` : `${id}: ${output?.status ?? 'done'}\n${JSON.stringify(output, null, 2)}\n`);
  return EXIT.done;
}

/** Feeds the trace's new entries to `progress` until `result` settles, then once more for the last ones. */
async function follow<T>(system: TroupeSystem, id: string, result: Promise<T>, progress: Progress): Promise<T> {
  let shown = 0;
  const poll = async () => {
    // The trace may not exist yet (the workflow is not started) or be briefly unreadable: the next poll retries.
    const entries = await system.trace(id).catch(() => []);
    for (const entry of entries.slice(shown)) {
      const { status, line } = progressOf(entry);
      // The new status first: persisting a line restarts the spinner with it.
      if (status !== undefined) progress.status(status);
      if (line !== undefined) progress.persist(line.mark, line.text);
    }
    shown = Math.max(shown, entries.length);
  };
  let settled = false;
  void result.finally(() => (settled = true)).catch(() => undefined);
  while (!settled) {
    await poll();
    await Promise.race([result.catch(() => undefined), new Promise((resolve) => setTimeout(resolve, POLL_MS))]);
  }
  await poll();
  return result;
}
