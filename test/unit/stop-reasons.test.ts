import { describe, expect, it } from 'vitest';
import { setup } from 'xstate';
import { step, workflow } from '../../machines/index.js';
import { createSystem, type RuntimeEvent } from '../../src/index.js';

describe('stop reasons and failure messages say what happened (issue 13)', () => {
  it('rt.actor.stopped: completed for a finished workflow, stopped when asked, supervisor for a stop directive, shutdown at shutdown', async () => {
    const lines: Array<{ msg: string; err?: { message: string; cause?: { message: string } } }> = [];
    const system = await createSystem({ name: 'why', logLevel: 'info', logDestination: { write: (l) => void lines.push(JSON.parse(l)) }, supervision: { intensity: 0 } });
    const stopped = new Map<string, string>();
    system.subscribe((e: RuntimeEvent) => void (e.type === 'rt.actor.stopped' && stopped.set(e.address, e.reason)));
    await system.spawn(system.register('wf', workflow('wf', { steps: [step('a', async () => 1)] })), { id: 'done' }).result();
    const idle = setup({}).createMachine({});
    await system.spawn(system.register('idle', idle), { id: 'asked' }).stop();
    const team = system.supervisor('team', { intensity: 0 });
    const crashing = setup({}).createMachine({ on: { go: { actions: () => { throw new Error('worker exploded'); } } } });
    const crash = system.spawn(system.register('crash', crashing), { id: 'c', parent: team, restart: 'temporary' });
    crash.tell({ type: 'go' });
    system.spawn('idle', { id: 'bystander' });
    for (let i = 0; i < 50 && !stopped.has('why/team/c'); i++) await new Promise((r) => setTimeout(r, 10));
    await system.shutdown();
    expect(stopped.get('why/done')).toBe('completed');
    expect(stopped.get('why/asked')).toBe('stopped');
    expect(stopped.get('why/team/c')).toBe('supervisor');
    expect(stopped.get('why/bystander')).toBe('shutdown');
    // The failure's log line says the cause once; the cause itself is kept apart.
    const failed = lines.find((l) => l.msg === 'actor failed');
    expect(failed?.err?.message).toBe('worker exploded');
    for (const line of lines) if (line.err) expect(line.err.message).not.toMatch(/worker exploded: worker exploded/);
  });

  it("a supervisor that gives up logs the child's failure once, its cause apart (pino's default serializer repeated it)", async () => {
    const lines: Array<{ msg: string; err?: { message: string; cause?: { message: string } } }> = [];
    const system = await createSystem({ name: 'gives', logLevel: 'info', logDestination: { write: (l) => void lines.push(JSON.parse(l)) }, supervision: { intensity: 0 } });
    const crashing = setup({}).createMachine({ on: { go: { actions: () => { throw new Error('worker exploded'); } } } });
    system.spawn(system.register('crash', crashing), { id: 'c', restart: 'permanent' }).tell({ type: 'go' });
    await system.terminated;
    const gaveUp = lines.find((l) => l.msg === 'supervisor gave up');
    expect(gaveUp?.err?.message).toBe('actor gives/c failed (actor-error): worker exploded');
    expect(gaveUp?.err?.cause?.message).toBe('worker exploded');
  });
});
