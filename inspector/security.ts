/**
 * The inspector's access checks (issue 5). The server listens on loopback only and every start has a new
 * random token. A browser gets the token once in the page URL and keeps it in an HttpOnly, SameSite=Strict
 * cookie (the page then removes it from the address bar); everything else needs that cookie or the token.
 * The Host header must name the loopback address the server listens on (DNS rebinding), and the UI's
 * WebSocket must come from the page's own Origin (another site's page cannot drive it, even with the cookie).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export const LOOPBACK_HOSTS: readonly string[] = ['127.0.0.1', '::1', 'localhost'];

export function createToken(): string {
  return randomBytes(24).toString('base64url');
}

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.includes(host);
}

export function sameToken(expected: string, given: string | undefined | null): boolean {
  if (typeof given !== 'string') return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function cookieName(port: number): string {
  return `troupe_inspector_${port}`;
}

/** The token from the `token` query parameter, or from this server's cookie. */
export function presentedToken(req: IncomingMessage, port: number): { query: string | null; cookie: string | undefined } {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const name = cookieName(port);
  let cookie: string | undefined;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) cookie = rest.join('=');
  }
  return { query: url.searchParams.get('token'), cookie };
}

/** Host header values this server answers to: loopback names with its port. */
export function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function hostAllowed(req: IncomingMessage, port: number): boolean {
  return allowedHosts(port).has(req.headers.host ?? '');
}

/** The Origin of the inspector's own page: `http://<Host>`. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== 'string') return false;
  return [...allowedHosts(port)].some((host) => origin === `http://${host}`) && origin === `http://${req.headers.host}`;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

export function contentSecurityPolicy(): string {
  return ["default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"].join('; ');
}
