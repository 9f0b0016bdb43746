/**
 * The live display: on a terminal one line redrawn in place with a progress bar (plain ANSI, no
 * dependency); elsewhere (CI logs, pipes) a plain line every few seconds.
 */
export interface ProgressSample {
  tMs: number;
  phase: string;
  requests: number;
  requestsPerSec: number;
  accepted: number;
  stock: number;
  remaining: number;
  available: number;
  locked: number;
  sold: number;
  persisted: number;
  queued: number;
}

const BAR_WIDTH = 28;

export function createProgress(stream: NodeJS.WriteStream = process.stdout) {
  const tty = stream.isTTY === true;
  let lastPlain = 0;
  let drawn = false;

  function line(s: ProgressSample): string {
    const sold = s.stock - s.remaining;
    return (
      `${s.phase.padEnd(9)} ${(s.tMs / 1000).toFixed(1).padStart(6)}s  ${Math.round(s.requestsPerSec).toString().padStart(6)} req/s  ` +
      `remaining ${s.remaining}/${s.stock}  taken ${sold}  persisted ${s.persisted}  queue lag ${s.queued}  ` +
      `locked ${s.locked} sold ${s.sold}`
    );
  }

  return {
    update(s: ProgressSample): void {
      if (tty) {
        const ratio = s.stock > 0 ? Math.min(1, Math.max(0, (s.stock - s.remaining) / s.stock)) : 0;
        const full = Math.round(ratio * BAR_WIDTH);
        const bar = `\x1b[32m${'█'.repeat(full)}\x1b[90m${'░'.repeat(BAR_WIDTH - full)}\x1b[0m`;
        const text = `${bar} ${(ratio * 100).toFixed(0).padStart(3)}% ${line(s)}`;
        stream.write(`\r\x1b[2K${text.slice(0, (stream.columns ?? 200) + 20)}`);
        drawn = true;
      } else if (s.tMs - lastPlain >= 2000) {
        lastPlain = s.tMs;
        stream.write(`${line(s)}\n`);
      }
    },
    /** Prints a message on its own line without breaking the bar. */
    log(message: string): void {
      if (tty && drawn) stream.write('\r\x1b[2K');
      stream.write(`${message}\n`);
      drawn = false;
    },
    done(): void {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}
