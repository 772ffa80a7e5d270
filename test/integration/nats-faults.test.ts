/**
 * NATS under faults (issue 4): a nats-server restart (clean and kill -9, same port and store dir) is
 * survived by the transport (it reports 'disconnected' then 'reconnected') and by the KV store (a value
 * written before is readable after); an outage fails requests with TimeoutError and drops core publishes
 * without throwing; garbage on a subject reaches a `decodeEnvelope` subscriber as CodecError, not a crash.
 * Waits are bounded and wait for events, never for a fixed time.
 */
import { describe, expect, test } from 'vitest';
import { decodeEnvelope, encode, encodeEnvelope, type Envelope } from '../../src/codec/index.js';
import { CodecError, TimeoutError } from '../../src/errors.js';
import { createKvSnapshotStore } from '../../src/persistence/jetstream/kv-snapshot-store.js';
import { createNatsTransport, type NatsTransport } from '../../src/transport/nats/nats-transport.js';
import type { TransportStatus } from '../../src/transport/transport.js';
import { startNatsServer } from '../fixtures/nats-server.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** Resolves with every status seen once `type` arrives; rejects after `timeoutMs`. Register before the fault. */
function statusUntil(transport: NatsTransport, type: TransportStatus['type'], timeoutMs = 20_000): Promise<TransportStatus['type'][]> {
  const seen: TransportStatus['type'][] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no '${type}' status within ${timeoutMs} ms (saw ${seen.join(', ') || 'nothing'})`));
    }, timeoutMs);
    const off = transport.onStatus((status) => {
      seen.push(status.type);
      if (status.type !== type) return;
      clearTimeout(timer);
      off();
      resolve(seen);
    });
  });
}

async function echoWorks(transport: NatsTransport): Promise<string> {
  const reply = await transport.request('svc.echo', bytes('ping'), { timeoutMs: 5_000 });
  return new TextDecoder().decode(reply.data);
}

describe('nats-server restart', () => {
  for (const mode of ['restart', 'kill9'] as const) {
    test(`after a ${mode === 'restart' ? 'clean restart' : 'kill -9 and start'}, the transport reconnects and the KV value written before is still there`, async () => {
      await using server = await startNatsServer();
      const transport = await createNatsTransport({ servers: server.url, reconnectTimeWaitMs: 100, name: 'faults' });
      try {
        transport.subscribe('svc.echo', (m) => transport.publish(m.reply!, m.data));
        const store = await createKvSnapshotStore(transport.connection, { bucket: 'troupe_faults_snapshots' });
        const written = await store.put('faults.actor', bytes('before the restart'), null);
        expect(written.ok).toBe(true);

        const statuses = statusUntil(transport, 'reconnected');
        if (mode === 'restart') await server.restart();
        else {
          await server.kill9();
          await server.start();
        }
        const seen = await statuses;
        expect(seen.indexOf('disconnected')).toBeGreaterThanOrEqual(0);
        expect(seen.indexOf('disconnected')).toBeLessThan(seen.indexOf('reconnected'));

        const read = await store.get('faults.actor');
        expect(new TextDecoder().decode(read!.value)).toBe('before the restart');
        expect(read!.revision).toBe(written.ok ? written.revision : -1);
        // Fencing still holds across the restart: the stored revision is the one to update from.
        expect((await store.put('faults.actor', bytes('after'), read!.revision)).ok).toBe(true);
        expect(await echoWorks(transport)).toBe('ping'); // subscriptions were re-established
      } finally {
        await transport.close();
      }
    });
  }

  test('during an outage a request fails with TimeoutError and a publish is dropped without throwing', async () => {
    await using server = await startNatsServer();
    const transport = await createNatsTransport({ servers: server.url, reconnectTimeWaitMs: 100, name: 'outage' });
    try {
      transport.subscribe('svc.echo', (m) => transport.publish(m.reply!, m.data));
      const down = statusUntil(transport, 'disconnected');
      await server.stop();
      await down;
      expect(() => transport.publish('anything', bytes('lost'))).not.toThrow();
      await expect(transport.request('svc.echo', bytes('x'), { timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError);

      const up = statusUntil(transport, 'reconnected');
      await server.start();
      await up;
      expect(await echoWorks(transport)).toBe('ping');
    } finally {
      await transport.close();
    }
  });

  test('close during an outage still resolves and reports closed once (no flush hangs on a dead server)', async () => {
    await using server = await startNatsServer();
    const transport = await createNatsTransport({ servers: server.url, reconnectTimeWaitMs: 100, name: 'close-down' });
    const down = statusUntil(transport, 'disconnected');
    await server.stop();
    await down;
    const closed = statusUntil(transport, 'closed');
    transport.publish('pending', bytes('buffered while down'));
    await transport.close();
    expect((await closed).filter((s) => s === 'closed')).toHaveLength(1);
  });
});

describe('garbage on the wire', () => {
  test('a subscriber decoding with decodeEnvelope gets CodecError for garbage and keeps handling valid envelopes', async () => {
    await using server = await startNatsServer();
    const transport = await createNatsTransport({ servers: server.url, name: 'garbage' });
    try {
      const errors: unknown[] = [];
      const valid = new Promise<Envelope>((resolve) => {
        transport.subscribe('troupe.t.rpc.actor', (m) => {
          try {
            resolve(decodeEnvelope(m.data));
          } catch (error) {
            errors.push(error);
          }
        });
      });
      const garbage = [
        new Uint8Array([0xc1]), // a byte msgpack never uses
        new Uint8Array([0xde, 0xff, 0xff]), // a map header promising 65,535 entries, then nothing
        bytes('not msgpack at all {'),
        encode(42), // valid msgpack, not an envelope
        encode({ v: 99, id: 'x', to: 't/actor', type: 'ev', payload: null, ts: 1 }), // unknown version
        new Uint8Array(0),
      ];
      for (const data of garbage) transport.publish('troupe.t.rpc.actor', data);
      const envelope: Envelope = { v: 1, id: 'm1', to: 't/actor', type: 'ping', payload: { n: 1 }, ts: Date.now() };
      transport.publish('troupe.t.rpc.actor', encodeEnvelope(envelope));

      expect(await valid).toEqual(envelope); // one connection keeps order: the garbage came first
      expect(errors).toHaveLength(garbage.length);
      for (const error of errors) expect(error).toBeInstanceOf(CodecError);
    } finally {
      await transport.close();
    }
  });
});
