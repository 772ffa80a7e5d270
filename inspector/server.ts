/**
 * The inspector server (issue 5): serves the UI on loopback only, with a random token per start, streams the
 * inspection bus to each browser over a WebSocket (bounded per client: see client-channel.ts), accepts only
 * human decisions on escrow items (decisions.ts), and receives the stream of any XState v5 app that uses
 * `@statelyai/inspect`'s WebSocket inspector on `/stately?token=...` (stately-endpoint.ts).
 *
 *   GET  /?token=T   the page (sets an HttpOnly SameSite=Strict cookie)     401 without the token
 *   GET  /app.js ... the bundle (cookie or token)
 *   WS   /ws         the UI stream: cookie or token, and the page's own Origin (403 otherwise)
 *   WS   /stately?token=T   outside XState apps (no Origin needed)
 *
 * Cluster view (on by default when the system runs on NATS): the records every other node of the system
 * publishes on `troupe.<system>.inspect.<node>` (`createSystem({ inspection: { publish: true } })`) reach the
 * same clients, each node under its own name (cluster-relay.ts). A late-joining inspector shows what remote
 * nodes published after it subscribed, nothing from before (see remote-node.ts). A client's full-inspection switch
 * for an actor another node runs goes to that node as a lease (inspect-control.ts), and the full records come back
 * the same way.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { createInspectionBus, type InspectionBus, type InspectionBusOptions, type InspectionStats, type TroupeSystem } from '../src/index.js';
import { InspectionHistory, type InspectionHistoryOptions, type InspectionHistoryStats } from '../src/inspection/history.js';
import type { ClientMessage } from '../src/inspection/wire.js';
import { loadUiAssets, type UiAsset } from './bundle.js';
import type { ChannelStats } from './channel-stats.js';
import { ClientChannel } from './client-channel.js';
import { ClusterRelay, type ClusterLimits, type ClusterStats } from './cluster-relay.js';
import { decide } from './decisions.js';
import { switchInspection, type InspectOptions } from './inspect-control.js';
import { contentSecurityPolicy, cookieName, createToken, hostAllowed, isLoopbackHost, originAllowed, presentedToken, sameToken, SECURITY_HEADERS } from './security.js';
import { StatelyEndpoint } from './stately-endpoint.js';
import { pageHtml } from './page.js';

export interface InspectorOptions {
  readonly system: TroupeSystem;
  /** Default 0: a free port. */
  readonly port?: number;
  /** A loopback address only: '127.0.0.1' (default), '::1' or 'localhost'. */
  readonly host?: string;
  /** Options of the inspection bus (mask, batch size and time, backlog). */
  readonly inspection?: InspectionBusOptions;
  /** Per UI client: unsent bytes allowed before batches are dropped (then a resync). Default 4 MiB. */
  readonly maxBufferedBytes?: number;
  /** Largest message a UI client may send, bytes. Default 64 KiB. */
  readonly maxClientMessageBytes?: number;
  /** Largest record an outside XState app may send, bytes. Default 1 MiB. */
  readonly maxStatelyMessageBytes?: number;
  /**
   * Show every node of the system: subscribe to `troupe.<system>.inspect.*` on `system.transport`.
   * Default: on when the system's transport is NATS.
   */
  readonly cluster?: boolean;
  /** Bounds of the per-remote-node caches kept for resyncs. */
  readonly clusterLimits?: ClusterLimits;
  /**
   * Full inspection of an actor another node runs (issue 9) is a lease on that node, renewed every third of
   * `leaseMs` while a client keeps it on. Default 15,000 ms (bounded 300 to 60,000).
   */
  readonly remoteInspectLeaseMs?: number;
  /**
   * The history ring (issue 14): this node's inspection records kept from the inspector's start, so a page
   * opened late or reloaded sees what happened. Default 5,000 records / 4 MiB; `{ maxRecords: 0 }` keeps none
   * (then the bus stays detached until a page connects).
   */
  readonly history?: InspectionHistoryOptions;
}

export interface InspectorStats {
  readonly bus: InspectionStats;
  readonly clients: readonly ChannelStats[];
  readonly stately: { readonly received: number; readonly rejected: number };
  readonly rejected: { readonly unauthorized: number; readonly forbidden: number };
  /** The cluster view's counts; undefined when it is off. */
  readonly cluster: ClusterStats | undefined;
  readonly history: InspectionHistoryStats;
}

export interface Inspector {
  /** The page URL, token included: `http://127.0.0.1:<port>/?token=<token>`. */
  readonly url: string;
  /** Where `@statelyai/inspect`'s WebSocket inspector of an outside XState app should connect. */
  readonly statelyUrl: string;
  readonly host: string;
  readonly port: number;
  readonly token: string;
  readonly bus: InspectionBus;
  stats(): InspectorStats;
  close(): Promise<void>;
}

/**
 * Starts the inspector for a system.
 * @example
 * const inspector = await startInspector({ system });
 * console.log(`open ${inspector.url}`);
 */
export async function startInspector(options: InspectorOptions): Promise<Inspector> {
  const host = options.host ?? '127.0.0.1';
  if (!isLoopbackHost(host)) throw new TypeError(`startInspector: host must be a loopback address (127.0.0.1, ::1 or localhost), got ${JSON.stringify(host)}`);
  const assets = await loadUiAssets();
  const token = createToken();
  const history = new InspectionHistory(options.history);
  const bus = createInspectionBus(options.system, { node: options.system.node, ...options.inspection });
  // Recording starts now, not when the first page connects.
  if (history.maxRecords > 0) bus.subscribe(history);
  const clusterOn = options.cluster ?? options.system.transport.kind === 'nats';
  const relay = clusterOn ? new ClusterRelay(options.system, options.clusterLimits) : undefined;
  relay?.start();
  const stately = new StatelyEndpoint(bus);
  const remoteInspect: InspectOptions = options.remoteInspectLeaseMs === undefined ? {} : { leaseMs: options.remoteInspectLeaseMs };
  const channels = new Set<ClientChannel>();
  const rejected = { unauthorized: 0, forbidden: 0 };
  let nextClient = 0;
  let port = 0;

  const ui = new WebSocketServer({ noServer: true, maxPayload: options.maxClientMessageBytes ?? 64 * 1024 });
  const external = new WebSocketServer({ noServer: true, maxPayload: options.maxStatelyMessageBytes ?? 1024 * 1024 });
  const maxBuffered = options.maxBufferedBytes ?? 4 * 1024 * 1024;

  const server = createServer((req, res) => {
    if (!hostAllowed(req, port)) return deny(res, 403, 'forbidden host', rejected);
    const auth = presentedToken(req, port);
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!sameToken(token, auth.query) && !sameToken(token, auth.cookie)) return deny(res, 401, 'token required: open the URL printed by `troupe inspect`', rejected);
    if (req.method !== 'GET') return deny(res, 405, 'method not allowed', rejected);
    if (path === '/' || path === '/index.html') {
      const cookie = `${cookieName(port)}=${token}; HttpOnly; SameSite=Strict; Path=/`;
      return send(res, 200, 'text/html; charset=utf-8', Buffer.from(pageHtml(options.system.name)), { 'Set-Cookie': cookie, 'Content-Security-Policy': contentSecurityPolicy() });
    }
    const asset: UiAsset | undefined = assets.get(path);
    if (asset) return send(res, 200, asset.type, asset.body, {});
    return deny(res, 404, 'not found', rejected);
  });

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const auth = presentedToken(req, port);
    if (!hostAllowed(req, port)) return refuse(socket, 403, rejected);
    if (path === '/stately') {
      if (!sameToken(token, auth.query)) return refuse(socket, 401, rejected);
      return external.handleUpgrade(req, socket, head, (ws) => stately.accept(ws));
    }
    if (path !== '/ws') return refuse(socket, 404, rejected);
    if (!sameToken(token, auth.query) && !sameToken(token, auth.cookie)) return refuse(socket, 401, rejected);
    if (!originAllowed(req, port)) return refuse(socket, 403, rejected);
    ui.handleUpgrade(req, socket, head, (ws) => {
      const channel = new ClientChannel(++nextClient, ws, bus, maxBuffered, () => stately.records(), relay, history.maxRecords > 0 ? () => history.messageJson(bus.node) : undefined);
      channels.add(channel);
      ws.on('message', (data: RawData, isBinary: boolean) => onClientMessage(options.system, bus, channel, ws, data, isBinary, stately, remoteInspect));
      ws.on('close', () => {
        channel.close();
        channels.delete(channel);
      });
      ws.on('error', () => ws.terminate());
      channel.open();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  }).catch((error: unknown) => {
    relay?.close();
    bus.close();
    throw error;
  });
  const address = server.address();
  port = typeof address === 'object' && address !== null ? address.port : 0;
  const shown = host.includes(':') ? `[${host}]` : host;

  return {
    url: `http://${shown}:${port}/?token=${token}`,
    statelyUrl: `ws://${shown}:${port}/stately?token=${token}`,
    host,
    port,
    token,
    bus,
    stats: () => ({ bus: bus.stats(), clients: [...channels].map((c) => c.stats()), stately: { received: stately.received, rejected: stately.rejected }, rejected: { ...rejected }, cluster: relay?.stats(), history: history.stats() }),
    close: async () => {
      for (const client of [...ui.clients, ...external.clients]) client.terminate();
      for (const channel of channels) channel.close();
      channels.clear();
      relay?.close();
      bus.close();
      ui.close();
      external.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function onClientMessage(system: TroupeSystem, bus: InspectionBus, channel: ClientChannel, ws: WebSocket, data: RawData, isBinary: boolean, stately: StatelyEndpoint, inspect: InspectOptions): void {
  let message: ClientMessage;
  try {
    if (isBinary) throw new Error('binary');
    message = JSON.parse(data.toString()) as ClientMessage;
    if (typeof message !== 'object' || message === null || typeof message.requestId !== 'string' || message.requestId.length > 64) throw new Error('shape');
  } catch {
    ws.close(1003, 'unsupported message');
    return;
  }
  const reply = (ok: boolean, error?: string) => channel.reply({ t: 'reply', v: 1, requestId: message.requestId, ok, ...(error === undefined ? {} : { error }) });
  switch (message.t) {
    case 'decide': {
      void decide(system, message).then((outcome) => reply(outcome.ok, outcome.ok ? undefined : outcome.error));
      return;
    }
    case 'definition': {
      if (typeof message.address !== 'string') return reply(false, 'address must be a string');
      // An actor another node runs is described by that node (issue 9).
      void bus.describeAnywhere(message.address).then(
        (definition) => {
          if (definition) channel.reply(definition);
          reply(definition !== undefined, definition ? undefined : 'no definition for that address');
        },
        (error: unknown) => reply(false, (error as Error).message),
      );
      return;
    }
    case 'inspect': {
      if (typeof message.address !== 'string') return reply(false, 'address must be a string');
      if (typeof message.on !== 'boolean') return reply(false, 'on must be a boolean');
      // An actor another node runs is switched on there, as a lease (issue 9).
      void switchInspection(system, bus, channel.inspecting, message.address, message.on, inspect).then((outcome) => reply(outcome.ok, outcome.ok ? undefined : outcome.error));
      return;
    }
    case 'resync':
      channel.requestResync();
      return reply(true);
    case 'finished':
      void bus.storedFinished().then(
        (finished) => (channel.reply(finished), reply(true)),
        (error: unknown) => reply(false, (error as Error).message),
      );
      return;
    case 'clear-stopped-apps':
      stately.clearStopped();
      return reply(true);
    default:
      // Only human decisions and inspection controls are accepted.
      return reply(false, 'unknown request');
  }
}

function send(res: ServerResponse, status: number, type: string, body: Buffer, headers: Record<string, string>): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': String(body.byteLength), ...headers });
  res.end(body);
}

function deny(res: ServerResponse, status: number, text: string, rejected: { unauthorized: number; forbidden: number }): void {
  if (status === 401) rejected.unauthorized++;
  if (status === 403) rejected.forbidden++;
  send(res, status, 'text/plain; charset=utf-8', Buffer.from(`${text}\n`), {});
}

function refuse(socket: Duplex, status: number, rejected: { unauthorized: number; forbidden: number }): void {
  if (status === 401) rejected.unauthorized++;
  if (status === 403) rejected.forbidden++;
  const text = status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}


