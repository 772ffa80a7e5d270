/**
 * The UI bundle (issue 5): `inspector/ui/main.ts` bundled by esbuild into ES modules (the statechart layout
 * engine, elkjs, is a chunk of its own, loaded only when a chart is first drawn). `npm run build` writes it
 * to `dist/inspector/ui/` (build-ui.ts); the server serves that, and when running from source (tests) it
 * bundles in memory at start with the installed esbuild. No CDN: everything is served by the inspector.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UiAsset {
  readonly path: string;
  readonly type: string;
  readonly body: Buffer;
}

const TYPES: Readonly<Record<string, string>> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };
const here = dirname(fileURLToPath(import.meta.url));

/** The prebuilt bundle next to the compiled server, or a fresh in-memory bundle of the sources. */
export function loadUiAssets(): Promise<Map<string, UiAsset>> {
  // Once per process: every inspector started here serves the same bundle.
  loaded ??= (async () => {
    const prebuilt = join(here, 'ui');
    const assets = existsSync(join(prebuilt, 'app.js')) ? await readAssets(prebuilt) : await bundleUi();
    return new Map(assets.map((a) => [a.path, a]));
  })();
  loaded.catch(() => (loaded = undefined));
  return loaded;
}

let loaded: Promise<Map<string, UiAsset>> | undefined;

async function readAssets(dir: string): Promise<UiAsset[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.js') || n.endsWith('.css'));
  return Promise.all(names.map(async (name) => ({ path: `/${name}`, type: typeOf(name), body: await readFile(join(dir, name)) })));
}

/** Bundles the UI sources with esbuild (a build-time dependency). */
export async function bundleUi(): Promise<UiAsset[]> {
  const esbuild = await import('esbuild');
  const entry = uiEntry();
  const result = await esbuild.build({
    entryPoints: { app: entry }, bundle: true, splitting: true, format: 'esm', platform: 'browser', target: 'es2022',
    write: false, outdir: '/ui', minify: true, chunkNames: 'chunk-[hash]', logLevel: 'silent', external: ['web-worker'],
    legalComments: 'none',
  });
  return result.outputFiles.map((file) => {
    const path = `/${file.path.split('/').pop()!}`;
    return { path, type: typeOf(path), body: Buffer.from(file.contents) };
  });
}

/** `inspector/ui/main.ts` of the package: next to this file when run from source, two levels up from dist/. */
function uiEntry(): string {
  for (const candidate of [join(here, 'ui', 'main.ts'), resolve(here, '..', '..', 'inspector', 'ui', 'main.ts')]) {
    if (existsSync(candidate)) return candidate;
  }
  throw new Error('inspector UI sources (inspector/ui/main.ts) not found: run `npm run build` to prebuild the UI');
}

function typeOf(path: string): string {
  return TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';
}
