/** One root pino logger; sessions take children bound to their identity. */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return destination ? pino({ level, base: undefined }, destination as pino.DestinationStream) : pino({ level, base: undefined });
}

/** A logger that writes nothing (tests, CLI subcommands). */
export const silentLogger: Logger = pino({ level: 'silent' });
