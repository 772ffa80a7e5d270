/**
 * Credentials never reach a log line (issues 10 and 12): the runtime's pino logger censors these paths — API keys,
 * passwords, tokens and authorization headers — at the top level and up to two levels down (pino's wildcards match
 * one level each), plus whatever the application adds with `createSystem({ logRedact })`.
 */
const FIELDS = ['apiKey', 'api_key', 'password', 'pass', 'token', 'secret', 'authorization', 'creds', 'nkey', 'seed'];
const HEADERS = ['headers.authorization', 'headers["x-api-key"]', 'headers.cookie'];

export const DEFAULT_REDACT_PATHS: readonly string[] = [
  ...FIELDS, ...FIELDS.map((f) => `*.${f}`), ...FIELDS.map((f) => `*.*.${f}`),
  ...HEADERS, ...HEADERS.map((h) => `*.${h}`),
];

export const REDACTED = '[redacted]';
