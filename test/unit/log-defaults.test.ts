import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const index = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));

/** Runs a script against the built package in a fresh process with no TROUPE_LOG_LEVEL; its stdout and stderr. */
function run(script: string): { stdout: string; stderr: string } {
  const env = { ...process.env };
  delete env['TROUPE_LOG_LEVEL'];
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 20_000 });
  if (out.status !== 0) throw new Error(`script failed (${out.status}): ${out.stderr}`);
  return { stdout: out.stdout, stderr: out.stderr };
}

describe('a library logs quietly by default (issue 13)', () => {
  it('warnings go to stderr, nothing to stdout, and info lines are off unless asked for', () => {
    const script = (options: string) => `
      const { createSystem } = await import(${JSON.stringify(index)});
      const system = await createSystem({ name: 'quiet' ${options} });
      system.lookup('quiet/nobody').tell({ type: 'hello' });   // a dead letter: a warning
      await new Promise((r) => setTimeout(r, 50));
      await system.shutdown();
      process.stdout.write('done');`;
    const quiet = run(script(''));
    expect(quiet.stdout).toBe('done');
    const lines = quiet.stderr.trim().split('\n').map((line) => JSON.parse(line) as { level: number; msg: string });
    expect(lines.map((l) => l.msg)).toContain('dead letter');
    expect(lines.every((l) => l.level >= 40)).toBe(true);

    const errorsOnly = run(script(", logLevel: 'error'"));
    expect(errorsOnly).toEqual({ stdout: 'done', stderr: '' });
  });
});
