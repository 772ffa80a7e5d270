/**
 * Inspector security (issue 5): no token -> 401; a foreign Origin or Host -> rejected; loopback only; the UI
 * socket accepts human decisions and inspection controls only, within size limits.
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { connect } from 'node:net';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { assign, setup } from 'xstate';
import { createSystem, type TroupeSystem } from '../../src/index.js';
import { startInspector, type Inspector } from '../../inspector/index.js';
import { escrow } from '../../machines/index.js';

let system: TroupeSystem;
let inspector: Inspector;

const counter = setup({ types: { context: {} as { n: number } } }).createMachine({ context: { n: 0 }, on: { inc: { actions: assign({ n: ({ context }) => context.n + 1 }) } } });

beforeEach(async () => {
  system = await createSystem({ name: 'sec', logLevel: 'silent' });
  system.register('counter', counter);
  system.register('escrow', escrow);
  system.spawn('counter', { id: 'c1' });
  system.spawn('escrow', { id: 'escrow' });
  inspector = await startInspector({ system });
});

afterEach(async () => {
  await inspector.close();
  await system.shutdown({ timeoutMs: 1_000 });
});

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: inspector.port, path, headers: { Host: `127.0.0.1:${inspector.port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Opens a socket; resolves with it when open, or with the HTTP status of the refused upgrade. */
function openSocket(path: string, options: { origin?: string; headers?: Record<string, string> } = {}): Promise<{ ws?: WebSocket; status?: number; seen: Array<Record<string, unknown>> }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${inspector.port}${path}`, { ...(options.origin ? { origin: options.origin } : {}), headers: options.headers });
    const seen: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => seen.push(JSON.parse(data.toString()) as Record<string, unknown>));
    ws.on('open', () => resolve({ ws, seen }));
    ws.on('unexpected-response', (_req, res) => resolve({ status: res.statusCode, seen }));
    ws.on('error', () => resolve({ status: -1, seen }));
  });
}

async function until(check: () => boolean, rounds = 400): Promise<void> {
  for (let i = 0; i < rounds && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  expect(check()).toBe(true);
}

const ownOrigin = () => `http://127.0.0.1:${inspector.port}`;

describe('HTTP', () => {
  test('no token, or a wrong one -> 401; the right token -> the page, an HttpOnly SameSite=Strict cookie and a strict CSP', async () => {
    expect((await get('/')).status).toBe(401);
    expect((await get('/?token=wrong')).status).toBe(401);
    expect((await get('/app.js')).status).toBe(401);
    const page = await get(`/?token=${inspector.token}`);
    expect(page.status).toBe(200);
    expect(String(page.headers['set-cookie'])).toMatch(/HttpOnly; SameSite=Strict/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const cookie = String(page.headers['set-cookie']).split(';')[0]!;
    expect((await get('/app.js', { Cookie: cookie })).status).toBe(200);
  });

  test('a foreign Host (DNS rebinding) -> 403 even with the token', async () => {
    expect((await get(`/?token=${inspector.token}`, { Host: `evil.example:${inspector.port}` })).status).toBe(403);
    expect((await get(`/?token=${inspector.token}`, { Host: 'evil.example' })).status).toBe(403);
  });
});

describe('UI socket', () => {
  test('no token -> 401; a foreign or missing Origin -> 403; the page origin with the token -> the history, then a resync', async () => {
    expect((await openSocket('/ws', { origin: ownOrigin() })).status).toBe(401);
    expect((await openSocket(`/ws?token=${inspector.token}`, { origin: 'http://evil.example' })).status).toBe(403);
    expect((await openSocket(`/ws?token=${inspector.token}`, { origin: `http://localhost:${inspector.port + 1}` })).status).toBe(403);
    expect((await openSocket(`/ws?token=${inspector.token}`)).status).toBe(403);
    const { ws, seen } = await openSocket(`/ws?token=${inspector.token}`, { origin: ownOrigin() });
    await until(() => seen.some((m) => m['t'] === 'resync'));
    // What the node recorded before the client came (issue 14), then the current state.
    expect(seen[0]).toMatchObject({ t: 'history', v: 1, records: expect.any(Array) });
    expect(seen[1]).toMatchObject({ t: 'resync', v: 1, reason: 'hello', system: 'sec' });
    ws!.close();
    expect(inspector.stats().rejected).toEqual({ unauthorized: 1, forbidden: 3 });
  });

  test('accepts only decisions and inspection controls; an item must be waiting; oversized messages close the socket', async () => {
    const { ws, seen } = await openSocket(`/ws?token=${inspector.token}`, { origin: ownOrigin() });
    ws!.send(JSON.stringify({ t: 'tell', requestId: 'a', to: 'sec/c1', event: { type: 'inc' } }));
    ws!.send(JSON.stringify({ t: 'decide', requestId: 'b', escrow: 'sec/escrow', itemId: 'nope', decision: 'approve' }));
    ws!.send(JSON.stringify({ t: 'decide', requestId: 'c', escrow: 'sec/escrow', itemId: 'x', decision: 'edit', output: 'y'.repeat(40_000) }));
    ws!.send(JSON.stringify({ t: 'decide', requestId: 'd', escrow: 'sec/c1', itemId: 'x', decision: 'launch' }));
    await until(() => seen.filter((m) => m['t'] === 'reply').length === 4);
    const replies = Object.fromEntries(seen.filter((m) => m['t'] === 'reply').map((m) => [m['requestId'], m]));
    expect(replies['a']).toMatchObject({ ok: false, error: 'unknown request' });
    expect(replies['b']).toMatchObject({ ok: false, error: 'no item nope is waiting in sec/escrow' });
    expect(replies['c']).toMatchObject({ ok: false, error: expect.stringMatching(/output must be at most 32768 bytes/) });
    expect(replies['d']).toMatchObject({ ok: false, error: expect.stringMatching(/decision must be one of/) });
    expect((system.lookup('sec/c1').getSnapshot() as { context: { n: number } }).context.n).toBe(0);
    const closed = new Promise<number>((resolve) => ws!.on('close', (code) => resolve(code)));
    ws!.send('x'.repeat(70 * 1024));
    expect(await closed).toBe(1009);
  });
});

describe('the @statelyai/inspect endpoint', () => {
  test('needs the token in the query (no Origin needed) and feeds outside actors to UI clients', async () => {
    expect((await openSocket('/stately')).status).toBe(401);
    const ui = await openSocket(`/ws?token=${inspector.token}`, { origin: ownOrigin() });
    const seen = ui.seen;
    const { ws } = await openSocket(`/stately?token=${inspector.token}`);
    ws!.send(JSON.stringify({ type: '@xstate.actor', name: 'toggle', sessionId: 'x:0', rootId: 'x:0', createdAt: '1', id: null, _version: '0.4.0', definition: '{"id":"toggle","initial":"off","states":{"off":{"on":{"go":"on"}},"on":{}}}', snapshot: { status: 'active', value: 'off' } }));
    ws!.send('not json');
    await until(() => seen.some((m) => m['t'] === 'batch' && JSON.stringify(m['records']).includes('ext-1:x:0')));
    expect(inspector.stats().stately).toEqual({ received: 1, rejected: 1 });
    ws!.close();
    ui.ws!.close();
  });
});

describe('loopback only', () => {
  test('listens on 127.0.0.1, refuses other hosts, and is unreachable on other interfaces', async () => {
    expect(inspector.host).toBe('127.0.0.1');
    expect(inspector.url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${inspector.port}/\\?token=[A-Za-z0-9_-]{32}$`));
    await expect(startInspector({ system, host: '0.0.0.0' })).rejects.toThrow(/loopback/);
    await expect(startInspector({ system, host: '192.168.1.10' })).rejects.toThrow(/loopback/);
    const external = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal);
    if (external) {
      const outcome = await new Promise<string>((resolve) => {
        const socket = connect({ host: external.address, port: inspector.port });
        socket.on('connect', () => (socket.destroy(), resolve('connected')));
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(outcome).toBe('ECONNREFUSED');
    }
  });

  test('a new token per start', async () => {
    const other = await startInspector({ system });
    expect(other.token).not.toBe(inspector.token);
    expect(other.port).not.toBe(inspector.port);
    await other.close();
  });
});
