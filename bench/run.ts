/**
 * `npm run bench` runs every group; `npm run bench -- <group> [...]` runs the named ones.
 * Groups are modules in this folder exporting `run()`; each prints `BENCH <group>.<figure> <value> <unit>`.
 */
const GROUPS = ['core', 'workflow', 'durable', 'inspector', 'cluster', 'reliability', 'agent', 'observability'] as const;

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((g) => !(GROUPS as readonly string[]).includes(g));
  if (unknown.length > 0) {
    console.error(`unknown bench group(s): ${unknown.join(', ')}; known: ${GROUPS.join(', ')}`);
    process.exit(2);
  }
  for (const group of requested.length > 0 ? requested : GROUPS) {
    const module = (await import(`./${group}.js`)) as { run: () => Promise<void> };
    await module.run();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
