/**
 * Security (issue 9): connecting with a creds file (decentralized JWT auth, as `nsc` sets it up). A real nats-server
 * in operator mode (MEMORY resolver preloaded with the account JWTs, a system account, JetStream enabled for the
 * test account) trusts one operator. A system whose node connects with a user's creds file runs a durable workflow on
 * the account's JetStream; the user is issued by a scoped signing key holding natsPermissions(system), so a node of
 * another system is refused. A user of an account the server does not trust is refused at once with
 * NonRetryableError; a bad credsFile setting is refused before dialing. Neither the seed nor the JWT ever reaches a
 * log line or an error.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, credsAuthenticator } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { createSystem, InvalidConfigError, natsPermissions, NonRetryableError, RetryableError, type CreateSystemOptions } from '../../src/index.js';
import { step, workflow } from '../../machines/index.js';
import { startNatsServer, type NatsServer } from '../fixtures/nats-server.js';
import { NatsOperator } from '../fixtures/nats-operator.js';

let server: NatsServer;
let operator: NatsOperator;
let stranger: NatsOperator;
/** Creds of a `support` user of the trusted account, confined to natsPermissions('support') by its signing key. */
let supportCreds: string;
/** The same permissions written into the user JWT itself: about 6 KB, more than a default server takes. */
let bulkyCreds: string;
/** Creds of a user of another account of the same operator (its own JetStream). */
let otherAccountCreds: string;
/** Creds of a user of an account of another operator, which the server does not trust. */
let untrustedCreds: string;
/** Every secret written into a creds file here: none may appear in a log line or an error message. */
const secrets: string[] = [];

beforeAll(async () => {
  operator = await NatsOperator.create('troupe');
  const { publish, subscribe } = natsPermissions('support');
  const app = await operator.account('APP', { scopes: { support: { pub: publish.allow, sub: subscribe.allow } } });
  supportCreds = await app.userCreds('support', { scope: 'support' });
  bulkyCreds = await app.userCreds('bulky', { permissions: { pub: publish.allow, sub: subscribe.allow } });
  otherAccountCreds = await (await operator.account('OTHER')).userCreds('other');
  stranger = await NatsOperator.create('stranger');
  untrustedCreds = await (await stranger.account('APP')).userCreds('support');
  for (const file of [supportCreds, bulkyCreds, otherAccountCreds, untrustedCreds]) secrets.push(...secretsOf(file));
  server = await startNatsServer({ config: operator.serverConfig() });
});
afterAll(async () => {
  await server?.cleanup();
  operator?.cleanup();
  stranger?.cleanup();
});

/** The JWT and the seed of a creds file. */
function secretsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [text.match(/eyJ[\w-]+\.[\w-]+\.[\w-]+/)![0], text.match(/SU[A-Z2-7]{40,}/)![0]];
}

/** createSystem with every log line (down to debug) captured; resolves to the system or the error. */
async function start(name: string, nats: CreateSystemOptions['nats']) {
  const logs: string[] = [];
  const started = Date.now();
  const outcome = await createSystem({ name, logLevel: 'debug', logDestination: { write: (line) => void logs.push(line) }, nats: nats! }).then(
    (system) => ({ system, error: undefined }),
    (error: unknown) => ({ system: undefined, error }),
  );
  return { ...outcome, logs, ms: Date.now() - started };
}

function expectNoSecret(...texts: string[]): void {
  for (const text of texts) for (const secret of secrets) expect(text.includes(secret), 'a creds secret leaked').toBe(false);
}

describe('NATS creds file auth (issue 9)', () => {
  it("a node connecting with a user's creds file runs a durable workflow end to end on the account's JetStream", async () => {
    const { system, error, logs } = await start('support', { servers: server.url, credsFile: supportCreds, startupTimeoutMs: 5_000 });
    expect(error).toBeUndefined();
    try {
      system!.register('wf', workflow('wf', { steps: [step('a', async () => 1), step('b', async () => 2)] }), { version: 1 });
      await system!.recover();
      const ref = system!.spawn('wf', { id: 'w1', durable: true, input: { workflowId: 'w1', address: 'support/w1' } });
      expect(await ref.result({ timeoutMs: 10_000 })).toMatchObject({ status: 'completed', results: { a: 1, b: 2 } });
      expect((await system!.trace('w1')).length).toBeGreaterThan(0);
      expect((await system!.nodes())[0]).toMatchObject({ hosting: true });
    } finally {
      await system!.shutdown();
    }
    expect(logs.length).toBeGreaterThan(0);
    expectNoSecret(...logs);

    // The system's streams are in the APP account's JetStream: a user of another account does not see them.
    const streamInfo = async (creds: string) => {
      const nc = await connect({ servers: server.url, authenticator: credsAuthenticator(readFileSync(creds)) });
      try {
        return await (await jetstreamManager(nc)).streams.info('TROUPE_support_MBOX').then((info) => info.config.name, (e: Error) => e.message);
      } finally {
        await nc.close();
      }
    };
    expect(await streamInfo(supportCreds)).toBe('TROUPE_support_MBOX');
    expect(await streamInfo(otherAccountCreds)).toMatch(/stream not found/i);
  });

  it("the permissions in the user JWT confine it to its system: a node of another system is refused, naming the fix", async () => {
    const { system, error, logs } = await start('billing', { servers: server.url, credsFile: supportCreds, startupTimeoutMs: 3_000 });
    await system?.shutdown();
    expect(error).toBeInstanceOf(InvalidConfigError);
    expect((error as Error).message).toContain("natsPermissions('billing')");
    expect((error as Error).message).toMatch(/permissions violation/i);
    expectNoSecret((error as Error).message, ...logs);
  });

  it('a user whose account the server does not trust is refused at once with NonRetryableError (AuthorizationError)', async () => {
    const { system, error, logs, ms } = await start('support', { servers: server.url, credsFile: untrustedCreds, startupTimeoutMs: 10_000 });
    await system?.shutdown();
    expect(error).toBeInstanceOf(NonRetryableError);
    expect((error as NonRetryableError).data['type']).toBe('AuthorizationError');
    expect((error as Error).message).toMatch(/authorization violation/i);
    expect(ms).toBeLessThan(3_000); // not retried until startupTimeoutMs
    expectNoSecret((error as Error).message, ...logs);
  });

  it("a user JWT over the server's max_control_line times out, and the error says why", async () => {
    const { system, error, logs } = await start('support', { servers: server.url, credsFile: bulkyCreds, connectTimeoutMs: 1_000, startupTimeoutMs: 500 });
    await system?.shutdown();
    expect(error).toBeInstanceOf(RetryableError);
    expect((error as Error).message).toMatch(/bulky\.creds is \d{4,} bytes: .*max_control_line.*scoped signing key/);
    expectNoSecret((error as Error).message, ...logs);
    expect(server.output).toMatch(/maximum control line exceeded/i);
  });

  it('a bad credsFile setting is refused before dialing, with InvalidConfigError naming the field and no secret', async () => {
    const dead = 'nats://127.0.0.1:1'; // nothing listens: a dial would be retried until startupTimeoutMs, then fail as RetryableError
    const refused = async (nats: Partial<NonNullable<CreateSystemOptions['nats']>>) => {
      const { system, error, ms } = await start('support', { servers: dead, startupTimeoutMs: 10_000, ...nats });
      await system?.shutdown();
      expect(error).toBeInstanceOf(InvalidConfigError);
      expect(ms).toBeLessThan(2_000);
      expectNoSecret((error as Error).message);
      return error as InvalidConfigError;
    };
    const missing = await refused({ credsFile: join(operator.dir, 'nope.creds') });
    expect(missing.field).toBe('nats.credsFile');
    expect(missing.message).toMatch(/nope\.creds does not exist/);

    const notCreds = join(operator.dir, 'not.creds');
    writeFileSync(notCreds, 'user: support\npassword: s3cret\n');
    expect(await refused({ credsFile: notCreds })).toMatchObject({ field: 'nats.credsFile', message: expect.stringMatching(/is not a NATS creds file/) });

    // The JWT of one user with the seed of another: the server would refuse it, so the setting is refused first.
    const [jwtOfSupport] = secretsOf(supportCreds);
    const mixed = join(operator.dir, 'mixed.creds');
    writeFileSync(mixed, readFileSync(untrustedCreds, 'utf8').replace(/eyJ[\w-]+\.[\w-]+\.[\w-]+/, jwtOfSupport!));
    expect(await refused({ credsFile: mixed })).toMatchObject({ field: 'nats.credsFile', message: expect.stringMatching(/is not the seed of its JWT's user/) });

    const expired = await (await operator.account('OLD')).userCreds('old', { expiresAt: Math.floor(Date.now() / 1_000) - 60 });
    secrets.push(...secretsOf(expired));
    expect(await refused({ credsFile: expired })).toMatchObject({ field: 'nats.credsFile', message: expect.stringMatching(/expired at/) });

    const both = await refused({ credsFile: supportCreds, token: 'tok-123' });
    expect(both.field).toBe('nats.auth');
    expect(both.message).toMatch(/choose one of .*credsFile/);
  });
});
