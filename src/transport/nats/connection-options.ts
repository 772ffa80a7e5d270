/**
 * How Troupe connects to NATS: one documented options type, validated before dialing (normalize, then
 * validate; STYLE §7), and `connectNats`, which the transport and the JetStream store share so one process
 * holds one connection. The only other place allowed to import `@nats-io/*` is src/persistence/jetstream.
 */
import { existsSync } from 'node:fs';
import { connect, nkeyAuthenticator, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
import { InvalidConfigError, NonRetryableError, RetryableError } from '../../errors.js';

export interface NatsTlsFiles {
  /** PEM file of the CA that signed the server's certificate. */
  readonly caFile?: string;
  /** PEM client certificate (mutual TLS); needs `keyFile`. */
  readonly certFile?: string;
  /** PEM private key of `certFile`. */
  readonly keyFile?: string;
}

export interface NatsConnectionOptions {
  /** One or more `nats://host:port` URLs; the client picks among them and fails over. */
  readonly servers: string | readonly string[];
  /** User/password auth; both or neither. Exclusive with `token` and `nkeySeed`. */
  readonly user?: string;
  readonly pass?: string;
  /** Token auth. */
  readonly token?: string;
  /** NKey auth: the user's seed (`SU...`); the server is configured with its public key. */
  readonly nkeySeed?: string;
  /** TLS: requires a TLS server; the files are read by the client at connect. */
  readonly tls?: NatsTlsFiles;
  /** Client name shown in the server's monitoring (`connz`). */
  readonly name?: string;
  /** Pause between reconnect attempts to one server, ms. Default 2,000 (the client's). */
  readonly reconnectTimeWaitMs?: number;
  /** Time allowed for the first connect handshake, ms. Default 20,000 (the client's). */
  readonly connectTimeoutMs?: number;
}

/** Validates and maps Troupe's options to the client's; throws InvalidConfigError naming the field. */
export function toClientOptions(options: NatsConnectionOptions): NodeConnectionOptions {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers];
  if (servers.length === 0 || servers.some((s) => typeof s !== 'string' || s.trim() === '')) {
    throw new InvalidConfigError('nats.servers', 'must list at least one server URL');
  }
  if ((options.user === undefined) !== (options.pass === undefined)) {
    throw new InvalidConfigError('nats.user', 'user and pass go together');
  }
  const methods = [options.user !== undefined, options.token !== undefined, options.nkeySeed !== undefined];
  if (methods.filter(Boolean).length > 1) {
    throw new InvalidConfigError('nats.auth', 'choose one of user/pass, token or nkeySeed');
  }
  for (const field of ['reconnectTimeWaitMs', 'connectTimeoutMs'] as const) {
    const v = options[field];
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new InvalidConfigError(`nats.${field}`, 'must be a number > 0');
  }
  const client: NodeConnectionOptions = {
    servers,
    // The client's default gives up after ~19 s and closes for good (watchers and consumers stop):
    // Troupe never gives up and reports the outage as status events instead (DESIGN, NATS facts).
    maxReconnectAttempts: -1,
    // The client captures a stack trace (an Error object) up front for every request and timeout, in case it
    // fails: several per durable write, about 7% of a durable workflow's CPU (issue 8 profile). Troupe maps every
    // failure to its own typed error with the operation named, so those stacks add nothing.
    noAsyncTraces: true,
  };
  if (options.name !== undefined) client.name = options.name;
  if (options.user !== undefined) Object.assign(client, { user: options.user, pass: options.pass });
  if (options.token !== undefined) client.token = options.token;
  if (options.nkeySeed !== undefined) {
    if (!/^SU[A-Z2-7]+$/.test(options.nkeySeed)) throw new InvalidConfigError('nats.nkeySeed', 'must be a user seed (SU...)');
    client.authenticator = nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed));
  }
  if (options.tls !== undefined) client.tls = tlsOptions(options.tls);
  if (options.reconnectTimeWaitMs !== undefined) client.reconnectTimeWait = options.reconnectTimeWaitMs;
  if (options.connectTimeoutMs !== undefined) client.timeout = options.connectTimeoutMs;
  return client;
}

function tlsOptions(tls: NatsTlsFiles): NonNullable<NodeConnectionOptions['tls']> {
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new InvalidConfigError('nats.tls.certFile', 'certFile and keyFile go together');
  }
  // Checked here so a typo names the field, instead of surfacing as a handshake failure.
  for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = tls[field];
    if (path !== undefined && !existsSync(path)) throw new InvalidConfigError(`nats.tls.${field}`, `file ${path} does not exist`);
  }
  const out: NonNullable<NodeConnectionOptions['tls']> = {};
  if (tls.caFile !== undefined) out.caFile = tls.caFile;
  if (tls.certFile !== undefined) out.certFile = tls.certFile;
  if (tls.keyFile !== undefined) out.keyFile = tls.keyFile;
  return out;
}

/**
 * Connects (reconnecting forever once connected). A first connect that fails is an error: refused auth
 * is NonRetryableError, anything else (server down, timeout) RetryableError; both keep the client's cause.
 */
export async function connectNats(options: NatsConnectionOptions): Promise<NatsConnection> {
  const client = toClientOptions(options);
  try {
    return await connect(client);
  } catch (error) {
    const message = `cannot connect to NATS at ${(client.servers as string[]).join(', ')}: ${(error as Error).message}`;
    if ((error as Error).name === 'AuthorizationError') throw new NonRetryableError(message, { cause: error, type: 'AuthorizationError' });
    throw new RetryableError(message, { cause: error });
  }
}
