/**
 * `node dist/inspector/build-ui.js` (part of `npm run build`): writes the UI bundle to `dist/inspector/ui/`,
 * which the compiled inspector server serves as is (no esbuild needed at run time).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleUi } from './bundle.js';

async function main(): Promise<void> {
  const out = join(dirname(fileURLToPath(import.meta.url)), 'ui');
  await rm(out, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  const assets = await bundleUi();
  for (const asset of assets) await writeFile(join(out, asset.path), asset.body);
  const bytes = assets.reduce((sum, a) => sum + a.body.byteLength, 0);
  process.stdout.write(`inspector UI: ${assets.length} files, ${Math.round(bytes / 1024)} KiB -> ${out}\n`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
