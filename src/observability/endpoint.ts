/**
 * An opt-in HTTP endpoint for the operator's stack (issue 12): `/metrics` in the Prometheus text format, `/healthz`
 * (the process is up) and `/readyz` (the system runs and its transport is connected: NATS up, for Kubernetes and
 * the like). On 127.0.0.1 by default. The metrics are Troupe's OpenTelemetry instruments (instruments.ts) on the
 * endpoint's own meter, rendered by OpenTelemetry's Prometheus exporter: nothing is added to an actor's message
 * path, and labels are bounded (never actor ids). An application that runs its own OpenTelemetry SDK gets the same
 * instruments on its meter without this endpoint (`instrumentMetrics`).
 *
 * @example
 * const endpoint = await startObservability(system, { port: 9464 });
 * // scrape http://127.0.0.1:9464/metrics; probe /healthz and /readyz
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { InvalidConfigError } from '../errors.js';
import type { InspectionStats } from '../inspection/bus.js';
import type { TroupeSystem } from '../runtime/api.js';
import type { TransportStatus } from '../transport/transport.js';
import { instrumentSystem } from './instruments.js';

export interface ObservabilityOptions {
  /** Default 0: a free port (read it from `url`). */
  readonly port?: number;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Inspection buses to report on (an inspector's `bus`): records produced and lost. */
  readonly inspection?: readonly { stats(): InspectionStats }[];
}

export interface ObservabilityEndpoint {
  /** `http://host:port`. */
  readonly url: string;
  /** Why `/readyz` answers 503, or undefined when ready. */
  notReadyBecause(): string | undefined;
  close(): Promise<void>;
}

export async function startObservability(system: TroupeSystem, options: ObservabilityOptions = {}): Promise<ObservabilityEndpoint> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new InvalidConfigError('observability.port', 'must be an integer from 0 to 65,535');
  const host = options.host ?? '127.0.0.1';
  // The endpoint's own SDK pipeline: Troupe's instruments on a meter whose only reader is the Prometheus exporter,
  // which renders at each scrape (no server of its own; this one serves it beside the health checks).
  const exporter = new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true });
  const provider = new MeterProvider({ readers: [exporter], resource: resourceFromAttributes({ 'service.name': system.name, 'service.instance.id': system.node }) });
  const uninstrument = instrumentSystem(system, provider.getMeter('troupe'), options.inspection ? { inspection: options.inspection } : {});

  let status: TransportStatus['type'] = 'connected';
  let running = true;
  const offStatus = system.transport.onStatus((s) => void (status = s.type));
  void system.terminated.then(() => void (running = false));
  const notReadyBecause = (): string | undefined => {
    if (!running) return 'the system has stopped';
    if (status !== 'connected' && status !== 'reconnected') return `transport ${system.transport.kind} is ${status}`;
    return system.notReadyBecause();
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      exporter.getMetricsRequestHandler(req, res);
    } else if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const why = notReadyBecause();
      res.writeHead(why === undefined ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(why === undefined ? { ready: true } : { ready: false, reason: why }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    notReadyBecause,
    close: async () => {
      uninstrument();
      offStatus();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.shutdown();
    },
  };
}
