/**
 * The live display. On a terminal: one line redrawn in place, always narrower than the terminal
 * (a line that wraps can no longer be redrawn with `\r`, so every update would print a new line).
 * Elsewhere (CI logs, pipes): a plain line every few seconds, no escape codes.
 *
 * Width is measured on the text before colour codes are added, and the line holds only ASCII and
 * the two one-column block characters of the bar, so its length is its visible width: no
 * string-width library is needed for that.
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

const MAX_BAR = 28;
const MIN_BAR = 8;
const GREEN = '\x1b[32m';
const GREY = '\x1b[90m';
const BOLD = '\x1b[1m';
const RESET = '\x1b[0m';

const count = (n: number) => Math.round(n).toLocaleString('en-US');

/** The facts of a sample, most important first: narrow terminals drop them from the end. */
function fields(s: ProgressSample): string[] {
  return [
    `left ${count(s.remaining)}/${count(s.stock)}`,
    `${count(s.requestsPerSec)} req/s`,
    `${(s.tMs / 1000).toFixed(1)}s`,
    `persisted ${count(s.persisted)}`,
    `queue ${count(s.queued)}`,
    `locked ${count(s.locked)}`,
    `sold ${count(s.sold)}`,
  ];
}

function soldRatio(s: ProgressSample): number {
  return s.stock > 0 ? Math.min(1, Math.max(0, (s.stock - s.remaining) / s.stock)) : 0;
}

/** The plain line for logs: every field, no bar, no escapes. */
export function plainLine(s: ProgressSample): string {
  return `${s.phase.padEnd(9)} ${(soldRatio(s) * 100).toFixed(0).padStart(3)}% taken  ${fields(s).join('  ')}`;
}

/**
 * The terminal line: a bar, the share taken, the phase and as many fields as fit in `columns - 1`
 * visible characters (the last column is left free: writing into it makes some terminals wrap).
 */
export function terminalLine(s: ProgressSample, columns: number, colour: boolean): string {
  const budget = Math.max(1, columns - 1);
  const ratio = soldRatio(s);
  const head = `${(ratio * 100).toFixed(0).padStart(3)}% ${s.phase}`;
  const rest = fields(s);
  const text = () => [head, ...rest].join('  ');
  // Keep the bar at full size while the fields fit; then shrink it; then drop fields from the end.
  let bar = Math.min(MAX_BAR, budget - text().length - 1);
  while (bar < MIN_BAR && rest.length > 0) {
    rest.pop();
    bar = Math.min(MAX_BAR, budget - text().length - 1);
  }
  let line = text();
  if (bar < MIN_BAR) {
    bar = 0;
    line = line.slice(0, budget);
  }
  const full = Math.round(ratio * bar);
  if (!colour) return bar > 0 ? `${'█'.repeat(full)}${'░'.repeat(bar - full)} ${line}` : line;
  const phaseAt = line.indexOf(s.phase);
  const styled = phaseAt < 0 ? line : `${line.slice(0, phaseAt)}${BOLD}${s.phase}${RESET}${line.slice(phaseAt + s.phase.length)}`;
  return bar > 0 ? `${GREEN}${'█'.repeat(full)}${GREY}${'░'.repeat(bar - full)}${RESET} ${styled}` : styled;
}

export interface ProgressOptions {
  /** How often the plain (non-terminal) display prints a line. */
  plainEveryMs?: number;
}

export function createProgress(stream: NodeJS.WriteStream = process.stdout, options: ProgressOptions = {}) {
  const tty = stream.isTTY === true;
  // hasColors() honours NO_COLOR, FORCE_COLOR and TERM=dumb.
  const colour = tty && typeof stream.hasColors === 'function' && stream.hasColors();
  const plainEveryMs = options.plainEveryMs ?? 2000;
  let lastPlain = Number.NEGATIVE_INFINITY;
  let drawn = false;

  return {
    update(s: ProgressSample): void {
      if (tty) {
        // Columns are read on every update, so a resized terminal is followed at once.
        stream.write(`\r${terminalLine(s, stream.columns || 80, colour)}\x1b[K`);
        drawn = true;
      } else if (s.tMs - lastPlain >= plainEveryMs) {
        lastPlain = s.tMs;
        stream.write(`${plainLine(s)}\n`);
      }
    },
    /** Prints a message on its own line without breaking the bar. */
    log(message: string): void {
      if (tty && drawn) stream.write('\r\x1b[K');
      stream.write(`${message}\n`);
      drawn = false;
    },
    done(): void {
      if (tty && drawn) stream.write('\n');
      drawn = false;
    },
  };
}
