/** The inspector page: a shell for the bundled UI (no inline script or style: the CSP forbids them). */
export function pageHtml(system: string): string {
  const title = `Troupe inspector: ${system.replace(/[^A-Za-z0-9_-]/g, '')}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="/app.css">
<script type="module" src="/app.js"></script>
</head>
<body><div id="app">Loading the inspector…</div></body>
</html>
`;
}
