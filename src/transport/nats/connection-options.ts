/**
 * How Troupe connects to NATS: one documented options type, validated before dialing (normalize, then
 * validate; STYLE §7), and `connectNats`, which the transport and the JetStream store share so one process
 * holds one connection. The only other place allowed to import `@nats-io/*` is src/persistence/jetstream.
 */
import { existsSync, readFileSync } from 'node:fs';
import { connect, credsAuthenticator, nkeyAuthenticator, nkeys, type NatsConnection, type NodeConnectionOptions } from '@nats-io/transport-node';
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
  /** User/password auth; both or neither. The auth methods (`user`/`pass`, `token`, `nkeySeed`, `credsFile`) are exclusive. */
  readonly user?: string;
  readonly pass?: string;
  /** Token auth. */
  readonly token?: string;
  /** NKey auth: the user's seed (`SU...`); the server is configured with its public key. */
  readonly nkeySeed?: string;
  /**
   * Decentralized (JWT) auth: the path of a user's `.creds` file, as `nsc generate creds` writes it (the user JWT,
   * signed by an account the server's operator trusts, and the user's nkey seed). Checked before dialing: the file
   * must exist and hold a user JWT that has not expired and the seed of that user. The client reads it at every
   * connect and reconnect, so a file replaced in place (a renewed JWT) is used from the next reconnect on; its
   * contents are never logged or put in an error. Keep the file readable by the node's user only (it is a secret).
   */
  readonly credsFile?: string;
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
  const methods = [options.user !== undefined, options.token !== undefined, options.nkeySeed !== undefined, options.credsFile !== undefined];
  if (methods.filter(Boolean).length > 1) {
    throw new InvalidConfigError('nats.auth', 'choose one of user/pass, token, nkeySeed or credsFile');
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
  if (options.credsFile !== undefined) {
    const path = options.credsFile;
    checkCredsFile(path);
    // Read at each (re)connect, not kept: the options object holds no secret, and a renewed file is picked up.
    client.authenticator = credsAuthenticator(() => readFileSync(path));
  }
  if (options.tls !== undefined) client.tls = tlsOptions(options.tls);
  if (options.reconnectTimeWaitMs !== undefined) client.reconnectTimeWait = options.reconnectTimeWaitMs;
  if (options.connectTimeoutMs !== undefined) client.timeout = options.connectTimeoutMs;
  return client;
}

// The armored blocks of a creds file, as the client parses them (nats-core credsAuthenticator): the JWT, then the seed.
const CREDS_BLOCK = /\s*(?:(?:[-]{3,}[^\n]*[-]{3,}\n)(.+)(?:\n\s*[-]{3,}[^\n]*[-]{3,}\n))/g;

/**
 * Throws InvalidConfigError naming `nats.credsFile` unless the file holds what the client will send: a user JWT that
 * has not expired and the seed of that user. Reasons name the path, never the file's contents.
 */
function checkCredsFile(path: string): void {
  const field = 'nats.credsFile';
  if (typeof path !== 'string' || path.trim() === '') throw new InvalidConfigError(field, 'must be the path of a .creds file');
  if (!existsSync(path)) throw new InvalidConfigError(field, `file ${path} does not exist`);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InvalidConfigError(field, `cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const notCreds = `${path} is not a NATS creds file: it must hold a user JWT and the user's nkey seed, as \`nsc generate creds\` writes them`;
  const [jwt, seed] = [...text.matchAll(CREDS_BLOCK)].map((m) => m[1]!.trim());
  if (jwt === undefined || seed === undefined) throw new InvalidConfigError(field, notCreds);
  const claims = jwtClaims(jwt);
  if (claims?.nats?.type !== 'user' || typeof claims.sub !== 'string') throw new InvalidConfigError(field, `${notCreds} (its JWT is not a user JWT)`);
  if (typeof claims.exp === 'number' && claims.exp * 1_000 <= Date.now()) {
    throw new InvalidConfigError(field, `the user JWT in ${path} expired at ${new Date(claims.exp * 1_000).toISOString()}`);
  }
  let publicKey: string | undefined;
  try {
    publicKey = /^SU[A-Z2-7]+$/.test(seed) ? nkeys.fromSeed(new TextEncoder().encode(seed)).getPublicKey() : undefined;
  } catch {
    publicKey = undefined;
  }
  if (publicKey === undefined) throw new InvalidConfigError(field, `${notCreds} (its seed is not a user seed)`);
  if (publicKey !== claims.sub) throw new InvalidConfigError(field, `the seed in ${path} is not the seed of its JWT's user ${claims.sub}`);
}

/** The claims of a NATS JWT (header typ JWT, three base64url parts), unverified; undefined if it is not one. */
function jwtClaims(jwt: string): { sub?: unknown; exp?: unknown; nats?: { type?: unknown } } | undefined {
  const parts = jwt.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString('utf8')) as { typ?: unknown };
    if (typeof header.typ !== 'string' || header.typ.toUpperCase() !== 'JWT') return undefined;
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as unknown;
    return typeof claims === 'object' && claims !== null ? claims : undefined;
  } catch {
    return undefined;
  }
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
 * (a wrong password, token or nkey, a creds file whose account or operator the server does not trust) is
 * NonRetryableError with type 'AuthorizationError', anything else (server down, timeout) RetryableError; both keep
 * the client's cause.
 */
export async function connectNats(options: NatsConnectionOptions): Promise<NatsConnection> {
  const client = toClientOptions(options);
  try {
    return await connect(client);
  } catch (error) {
    const message = `cannot connect to NATS at ${(client.servers as string[]).join(', ')}: ${(error as Error).message}`;
    if ((error as Error).name === 'AuthorizationError') throw new NonRetryableError(message, { cause: error, type: 'AuthorizationError' });
    const hint = (error as Error).name === 'TimeoutError' && options.credsFile !== undefined ? controlLineHint(options.credsFile) : '';
    throw new RetryableError(`${message}${hint}`, { cause: error });
  }
}

/** nats-server's default `max_control_line`: a CONNECT line longer than this is refused. */
const DEFAULT_MAX_CONTROL_LINE = 4_096;

/**
 * Why a creds connect may time out: a server with the default max_control_line closes a CONNECT whose JWT does not
 * fit (logging "maximum control line exceeded"), and the client only sees a timeout. Names the size, not the JWT.
 */
function controlLineHint(path: string): string {
  let jwtBytes: number;
  try {
    jwtBytes = [...readFileSync(path, 'utf8').matchAll(CREDS_BLOCK)][0]?.[1]?.trim().length ?? 0;
  } catch {
    return '';
  }
  // The rest of the CONNECT line (nkey, signature, client name and version, flags) takes a few hundred bytes.
  if (jwtBytes + 512 <= DEFAULT_MAX_CONTROL_LINE) return '';
  return ` (the user JWT in ${path} is ${jwtBytes} bytes: a nats-server with the default max_control_line of 4 KB closes the connection that sends it; ` +
    'put the permissions on a scoped signing key of the account instead of in each user JWT, or raise max_control_line on the servers)';
}
