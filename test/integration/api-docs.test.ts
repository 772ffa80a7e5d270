/**
 * The API reference (issue 13) is generated from the doc comments by TypeDoc (`npm run docs` -> docs/api/). Every
 * type the public API names is exported, so the reference has no dangling reference: TypeDoc's warnings are errors.
 */
import { execFile } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('API reference (issue 13)', () => {
  it('TypeDoc documents the four entry points with no warning and no error', async () => {
    const typedoc = join(ROOT, 'node_modules/typedoc/bin/typedoc');
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [typedoc, '--emit', 'none', '--treatWarningsAsErrors'], { cwd: ROOT, timeout: 120_000 });
    expect(`${stdout}${stderr}`).not.toMatch(/\[warning\]|\[error\]/);
  }, 120_000);
});
