export { silentLogger, lazyChild, createThrottle, type Logger, type LogFn, type LogLevel } from './logger.js';
