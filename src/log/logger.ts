/**
 * The logger seam. The runtime logs through this interface only; runtime.ts (L4) is the one place that
 * names pino. Child loggers per actor are created lazily on the first line (a pino child costs ~0.5 KB, an
 * idle actor ~3.5 KB), see `lazyChild`.
 */

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

export interface LogFn {
  (obj: Record<string, unknown>, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: LogLevel): boolean;
}

const noop: LogFn = () => {};

/** A logger that writes nothing; every level is a no-op. */
export const silentLogger: Logger = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};

/** Returns a getter that creates `parent.child(bindings())` on first use and reuses it afterwards. */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): () => Logger {
  let child: Logger | undefined;
  return () => (child ??= parent.child(bindings()));
}

/**
 * Throttles a repetitive log line: at most one line per `windowMs`, reporting how many were suppressed.
 * Used for dead letters, which can arrive by the thousand.
 */
export function createThrottle(windowMs: number, now: () => number): (emit: (suppressed: number) => void) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (emit) => {
    const t = now();
    if (t - last < windowMs) {
      suppressed++;
      return;
    }
    last = t;
    const count = suppressed;
    suppressed = 0;
    emit(count);
  };
}
