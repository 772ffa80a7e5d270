/**
 * Packaging (issue 13): what `npm pack` ships, and a fresh strict TypeScript project that installs the tarball,
 * typechecks a small consumer against the packed declarations and runs it.
 *
 * How the tarball is "installed", offline: `npm install --offline <tarball>` does not work after `npm ci` (npm ci
 * caches dependency tarballs but not the registry documents needed to resolve the tarball's version ranges, so it
 * fails with ENOTCACHED), and a networked install is not a test. So the test lays out what npm would: the tarball
 * unpacked as `node_modules/troupe` (exactly the packed files, nothing from the work tree), and each of its
 * dependencies, plus the consumer's own `xstate` and `@types/node`, linked from this project's installed tree —
 * the same versions the lockfile pins. What is under test is the tarball: its file list, its `exports`, and its
 * declarations compiled with `skipLibCheck: false`, then its JavaScript run.
 *
 * Dependencies' own declarations under `skipLibCheck: false`: Troupe's declarations compile clean, but some
 * dependencies' do not (xstate and nats-core under `exactOptionalPropertyTypes: true`; the AI SDK's without lib
 * "dom" and @types/json-schema). They are listed in
 * `KNOWN_DEPENDENCY_TYPE_ERRORS` and asserted to be the only ones, so a new one fails the test and a fixed one
 * (no errors left from it) fails it too, to keep the list — and the README's note — true.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admitsNode } from '../fixtures/node-range.js';

const run = promisify(execFile);
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CONSUMER_SOURCE = join(ROOT, 'test/fixtures/package-consumer/consumer.ts');
/** Node 20's first release Troupe supports (`engines.node`). */
const OLDEST_NODE = '20.19.0';
/** Dependencies whose own declarations fail under `skipLibCheck: false` + `exactOptionalPropertyTypes`, and why. */
const KNOWN_DEPENDENCY_TYPE_ERRORS: Readonly<Record<string, string>> = {
  // xstate 5.33 dist/declarations/src/setup.d.ts: TS2344, `MachineConfig['id']` (string | undefined) is not a
  // `StateSchema['id']` (string) under exactOptionalPropertyTypes.
  xstate: 'setup.d.ts: TConfig does not satisfy the constraint StateSchema',
  // @nats-io/nats-core 3.4 lib/msg.d.ts, lib/nats.d.ts: TS2420, `MsgImpl.headers` and `NatsConnectionImpl.info`
  // are `T | undefined` where their interfaces declare optional `T`.
  '@nats-io/nats-core': 'MsgImpl / NatsConnectionImpl incorrectly implement Msg / NatsConnection',
  // ai 6 dist/index.d.ts (reached through troupe/actors' AI SDK adapter): TS2304, browser types (HeadersInit,
  // RequestCredentials, FileList) that a Node project without lib "dom" lacks; TS2344, `Tool` constraints under
  // exactOptionalPropertyTypes.
  ai: 'index.d.ts: DOM types without lib dom; TOOLS does not satisfy Record<string, Tool>',
  // @ai-sdk/gateway's copy of @ai-sdk/provider-utils: TS2304, HeadersInit (lib "dom").
  '@ai-sdk/gateway': 'provider-utils index.d.ts: HeadersInit without lib dom',
  // @ai-sdk/provider 3: TS7016, it imports the types of `json-schema` without depending on @types/json-schema.
  '@ai-sdk/provider': "index.d.ts: no declaration file for module 'json-schema'",
};

interface PackResult {
  readonly filename: string;
  readonly files: ReadonlyArray<{ readonly path: string }>;
}

let work: string;
let tarball: string;
let shipped: string[];

beforeAll(async () => {
  if (!existsSync(join(ROOT, 'dist/src/index.d.ts'))) throw new Error('dist/ is missing: run `npm run build` first (`npm test` does)');
  work = mkdtempSync(join(tmpdir(), 'troupe-pack-'));
  // --ignore-scripts: pack the dist/ `npm test` built instead of rebuilding it under tests that run it.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const [result] = JSON.parse(stdout) as PackResult[];
  if (result === undefined) throw new Error(`npm pack printed no result: ${stdout}`);
  tarball = join(work, result.filename);
  shipped = result.files.map((f) => f.path);
}, 60_000);

afterAll(() => {
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
});

describe('the packed tarball', () => {
  it('ships the four entry points and the CLI, and nothing users do not import', () => {
    for (const entry of ['src', 'machines', 'actors', 'inspector']) {
      expect(shipped).toContain(`dist/${entry}/index.js`);
      expect(shipped).toContain(`dist/${entry}/index.d.ts`);
    }
    expect(shipped).toContain('dist/cli/troupe.js');
    expect(shipped).toContain('dist/inspector/ui/app.js'); // the built UI the inspector serves
    // The CLI's demo is the one example shipped: `troupe inspect` runs it.
    expect(shipped.filter((p) => p.startsWith('dist/examples/'))).toEqual(['dist/examples/support-workflow.js']);
    const unwanted = shipped.filter((p) => /^dist\/(bench|test)\/|\.scratch|\.map$|build-ui|^(src|machines|actors|inspector|cli|test|bench)\//.test(p));
    expect(unwanted).toEqual([]);
  });

  it('builds on pack (prepack, not prepare) and declares Node 20 for everything it installs', () => {
    const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      engines: { node: string };
    };
    expect(manifest.scripts['prepack']).toBe('npm run build');
    expect(manifest.scripts['prepare']).toBeUndefined();
    expect(admitsNode(manifest.engines.node, OLDEST_NODE)).toBe(true);
    // Every runtime package the lockfile installs admits Node 20 (no EBADENGINE on `npm ci`).
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; engines?: { node?: string } | string[] }>;
    };
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && entry.dev !== true && !Array.isArray(entry.engines) && entry.engines?.node !== undefined)
      .filter(([, entry]) => !admitsNode((entry.engines as { node: string }).node, OLDEST_NODE))
      .map(([path, entry]) => `${path} (${(entry.engines as { node: string }).node})`);
    expect(refusing).toEqual([]);
  });
});

describe('a fresh strict TypeScript project using the tarball', () => {
  it('typechecks a consumer of troupe, troupe/machines, troupe/actors and troupe/inspector without casts, and runs it', async () => {
    const project = join(work, 'consumer');
    const modules = join(project, 'node_modules');
    mkdirSync(join(modules, 'troupe'), { recursive: true });
    await run('tar', ['-xzf', tarball, '-C', join(modules, 'troupe'), '--strip-components=1']);
    const packed = JSON.parse(readFileSync(join(modules, 'troupe/package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const linked = [...Object.keys(packed.dependencies), '@types/node'];
    for (const name of new Set(linked)) {
      mkdirSync(dirname(join(modules, name)), { recursive: true });
      symlinkSync(realpathSync(join(ROOT, 'node_modules', name)), join(modules, name), 'dir');
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          exactOptionalPropertyTypes: true,
          noUncheckedIndexedAccess: true,
          skipLibCheck: false,
          types: ['node'],
          outDir: 'out',
          rootDir: '.',
        },
        files: ['consumer.ts'],
      }),
    );
    writeFileSync(join(project, 'consumer.ts'), readFileSync(CONSUMER_SOURCE, 'utf8'));

    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: project }).then(
      () => ({ ok: true, diagnostics: [] as string[] }),
      (error: { stdout?: string }) => ({ ok: false, diagnostics: (error.stdout ?? String(error)).split('\n').filter((l) => l.includes('error TS')) }),
    );
    // Troupe's own declarations and the consumer: no errors at all.
    const fromDependencies = compiled.diagnostics.filter((line) => line.includes('node_modules/') && !line.includes('node_modules/troupe/'));
    expect(compiled.diagnostics.filter((line) => !fromDependencies.includes(line))).toEqual([]);
    // Dependencies: exactly the known ones (paths are the linked packages' real paths, still under node_modules/).
    const packageOf = (line: string) => Object.keys(KNOWN_DEPENDENCY_TYPE_ERRORS).find((name) => line.includes(`node_modules/${name}/`));
    expect(fromDependencies.filter((line) => packageOf(line) === undefined)).toEqual([]);
    expect([...new Set(fromDependencies.map(packageOf))].sort()).toEqual(Object.keys(KNOWN_DEPENDENCY_TYPE_ERRORS).sort());
    expect(compiled.ok).toBe(fromDependencies.length === 0);

    const { stdout } = await run(process.execPath, ['out/consumer.js'], { cwd: project, env: { ...process.env, TROUPE_MESSAGE_CHECK: 'roundtrip' } });
    const line = stdout.trim().split('\n').at(-1) ?? '';
    expect(JSON.parse(line)).toEqual({
      count: 1,
      status: 'completed',
      greet: 'hello ada (attempt 1)',
      outcomes: expect.arrayContaining(['greet:succeeded']) as unknown,
      waiting: 0,
      unknownItem: true,
      inspectorOnLoopback: true,
    });
  }, 120_000);
});
