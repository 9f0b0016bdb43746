/**
 * The anti-bot proof of work (docs/api.md, "Anti-bot challenge"): find a string `nonce` such that SHA-256(prefix + nonce)
 * starts with `difficulty` zero bits. Uses crypto.subtle (browsers and workers), hashing a batch
 * of candidates at once because each digest is a promise. Same rule as the shared solver in
 * src/client/challenge.ts, plus the progress reports the page shows.
 */
import { leadingZeroBits } from '../../src/client/challenge.ts';

export interface SolveProgress {
  attempts: number;
  /** Hashes per second so far. */
  rate: number;
  /** Expected attempts for this difficulty (2^difficulty), for a progress estimate. */
  expected: number;
}

export async function solve(
  prefix: string,
  difficulty: number,
  onProgress: (progress: SolveProgress) => void,
  batch = 512,
): Promise<{ nonce: string; attempts: number }> {
  const encoder = new TextEncoder();
  const started = performance.now();
  const expected = 2 ** difficulty;
  let lastReport = 0;
  for (let base = 0; ; base += batch) {
    const digests = await Promise.all(
      Array.from({ length: batch }, (_, i) => crypto.subtle.digest('SHA-256', encoder.encode(prefix + String(base + i)))),
    );
    for (let i = 0; i < digests.length; i++) {
      if (leadingZeroBits(new Uint8Array(digests[i] as ArrayBuffer)) >= difficulty) {
        return { nonce: String(base + i), attempts: base + i + 1 };
      }
    }
    const now = performance.now();
    if (now - lastReport > 100) {
      lastReport = now;
      const attempts = base + batch;
      onProgress({ attempts, rate: (attempts * 1000) / Math.max(1, now - started), expected });
    }
  }
}
