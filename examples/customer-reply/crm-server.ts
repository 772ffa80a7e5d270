/**
 * The customer-history API the demo's first step calls: a real HTTP server on 127.0.0.1 (node:http), serving
 * `GET /customers/<id>/history`. A customer listed in `slowOnce` gets no answer to its first request for `slowMs`
 * (longer than the step's timeout), the way a CRM stalls under load.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Interaction {
  readonly at: string;
  readonly channel: 'email' | 'chat' | 'phone';
  readonly text: string;
}

export interface CrmCustomer {
  readonly name: string;
  readonly interactions: readonly Interaction[];
}

export interface CrmServer {
  readonly url: string;
  /** Requests served (and stalled), by customer id. */
  readonly requests: ReadonlyMap<string, number>;
  close(): Promise<void>;
}

export async function startCrm(customers: Readonly<Record<string, CrmCustomer>>, options: { slowOnce?: readonly string[]; slowMs?: number } = {}): Promise<CrmServer> {
  const requests = new Map<string, number>();
  const slow = new Set(options.slowOnce ?? []);
  const stalled = new Set<NodeJS.Timeout>();
  const server = createServer((req, res) => {
    const match = /^\/customers\/([A-Za-z0-9_-]+)\/history$/.exec(req.url ?? '');
    if (req.method !== 'GET' || match === null) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
      return;
    }
    const id = match[1]!;
    const n = (requests.get(id) ?? 0) + 1;
    requests.set(id, n);
    const customer = customers[id];
    const answer = () => {
      if (customer === undefined) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no customer ${id}` }));
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, ...customer }));
    };
    if (n === 1 && slow.has(id)) {
      const timer = setTimeout(() => {
        stalled.delete(timer);
        if (!res.destroyed) answer();
      }, options.slowMs ?? 2_000);
      stalled.add(timer);
      return;
    }
    answer();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      for (const timer of stalled) clearTimeout(timer);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
