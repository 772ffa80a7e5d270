export { silentLogger, lazyChild, createThrottle, type Logger, type LogFn, type LogLevel } from './logger.js';
export { DEFAULT_REDACT_PATHS, REDACTED } from './redact.js';
