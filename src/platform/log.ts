import pino, { type Logger } from 'pino';
import type { Config } from '../config.ts';

export type { Logger };

export function createLogger(config: Pick<Config, 'logLevel' | 'devDefaults'>, name = 'seckill'): Logger {
  const log = pino({ name, level: config.logLevel });
  for (const variable of config.devDefaults) {
    log.warn(`!!! ${variable} is not set: using an insecure development default. Set it before going to production. !!!`);
  }
  return log;
}
