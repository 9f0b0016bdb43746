/**
 * A wall clock the campaign can step while the service runs: libfaketime (Debian's `libfaketime`)
 * preloaded into the service's processes reads its offset from a file. Only the wall clock moves
 * (FAKETIME_DONT_FAKE_MONOTONIC): Node's timers run on the monotonic clock, as an NTP step leaves
 * them alone on a real machine, while Date.now(), order ids, reservation times and expiries see the
 * step. The file is read at most once a second (FAKETIME_CACHE_DURATION): reading it on every call
 * costs Node about 6 µs per Date.now().
 */
import { existsSync, writeFileSync } from 'node:fs';
import { ensureCommand } from '../cli/services/process.ts';

const LIBRARY = '/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1';

export class FakeClock {
  readonly file: string;
  offsetMs = 0;

  constructor(file: string) {
    this.file = file;
    writeFileSync(file, '+0\n');
  }

  /** The variables that put a process on this clock (libfaketime is installed if missing). */
  env(): Record<string, string> {
    if (!existsSync(LIBRARY)) ensureCommand('faketime', 'faketime');
    if (!existsSync(LIBRARY)) throw new Error(`installed faketime, but ${LIBRARY} is missing`);
    return {
      LD_PRELOAD: LIBRARY,
      FAKETIME_TIMESTAMP_FILE: this.file,
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      FAKETIME_CACHE_DURATION: '1',
    };
  }

  /** Steps the clock to `offsetMs` from true time (in whole seconds, as libfaketime reads it). */
  set(offsetMs: number): void {
    this.offsetMs = Math.round(offsetMs / 1000) * 1000;
    const seconds = this.offsetMs / 1000;
    writeFileSync(this.file, `${seconds >= 0 ? '+' : ''}${seconds}\n`);
  }
}
