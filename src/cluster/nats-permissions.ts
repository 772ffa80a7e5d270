/**
 * The NATS subjects one system's nodes use (issue 9, security): a nats-server user given exactly these can run
 * nodes of that system and nothing else — not read or write another system's mailboxes, records, traces or
 * control subjects. Its own subjects are all under `troupe.<system>.>`; its JetStream API calls name its own
 * streams (`TROUPE_<system>_MBOX`, `_DLQ`, `_TRACE`) and buckets (`KV_troupe_<system>_snapshots`, `_finished`,
 * `_nodes`, `_timers`, `_journal`). `_INBOX.>` carries request replies (nats.js's default inbox prefix).
 *
 * @example
 * // nats-server.conf, one user per system (a node of another system is refused by the server):
 * //   authorization { users: [ { user: support, password: $SUPPORT_PASS, permissions: <natsPermissions('support')> } ] }
 * const { publish, subscribe } = natsPermissions('support');
 */
import { InvalidConfigError } from '../errors.js';

export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
}

/** The streams (and KV bucket streams) a system creates. */
export function systemStreams(system: string): string[] {
  return [
    `TROUPE_${system}_MBOX`,
    `TROUPE_${system}_DLQ`,
    `TROUPE_${system}_TRACE`,
    `KV_troupe_${system}_snapshots`,
    `KV_troupe_${system}_finished`,
    `KV_troupe_${system}_nodes`,
    `KV_troupe_${system}_timers`,
    `KV_troupe_${system}_journal`,
  ];
}

export function natsPermissions(system: string): NatsPermissions {
  if (typeof system !== 'string' || !/^[A-Za-z0-9_-]+$/.test(system)) throw new InvalidConfigError('system', 'must match [A-Za-z0-9_-]+');
  const streams = systemStreams(system);
  const api = streams.flatMap((stream) => [
    `$JS.API.STREAM.*.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.*.${stream}`,
    `$JS.API.CONSUMER.*.${stream}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${stream}.*`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${stream}.*`,
    `$JS.ACK.${stream}.>`,
    `$JS.FC.${stream}.>`,
  ]);
  const buckets = ['snapshots', 'finished', 'nodes', 'timers', 'journal'].map((bucket) => `$KV.troupe_${system}_${bucket}.>`);
  return {
    publish: { allow: [`troupe.${system}.>`, ...buckets, '$JS.API.INFO', ...api, '_INBOX.>'] },
    subscribe: { allow: [`troupe.${system}.>`, '_INBOX.>'] },
  };
}

/** The permissions as nats-server configuration text (for a `users` entry). */
export function natsPermissionsConfig(system: string): string {
  const { publish, subscribe } = natsPermissions(system);
  const list = (subjects: readonly string[]) => subjects.map((subject) => JSON.stringify(subject)).join(', ');
  return `{ publish: { allow: [${list(publish.allow)}] }, subscribe: { allow: [${list(subscribe.allow)}] } }`;
}
