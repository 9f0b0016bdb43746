/**
 * Solves the anti-bot proof-of-work of docs/api.md: find a `nonce` (a string) such that
 * SHA-256(prefix + nonce) starts with `difficulty` zero bits. Pure and dependency-free: it uses
 * WebCrypto (`globalThis.crypto.subtle`), present in browsers and in Node ≥ 20, so the web page,
 * the demo and the tests share this one file. The server verifies with `leadingZeroBits` below.
 */

export interface Challenge {
  challengeId: string;
  algorithm: 'sha256';
  prefix: string;
  difficulty: number;
  expiresAt: string;
}

export interface ChallengeAnswer {
  challengeId: string;
  nonce: string;
}

/** Number of leading zero bits of a digest. */
export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

const encoder = new TextEncoder();

export async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

type SyncHash = (text: string) => Uint8Array;

/**
 * In Node, WebCrypto's digest is asynchronous per call and ~100× slower than a plain synchronous
 * hash, which matters for the demo's crowd of solvers. `process.getBuiltinModule` reaches
 * node:crypto without an import statement, so browsers (no `process`) take the WebCrypto path.
 */
function nodeSyncHash(): SyncHash | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const nodeCrypto = proc?.getBuiltinModule?.('node:crypto') as
    | { createHash(algorithm: string): { update(data: string): { digest(): Uint8Array } } }
    | undefined;
  return nodeCrypto ? (text) => nodeCrypto.createHash('sha256').update(text).digest() : undefined;
}

/** True when `nonce` solves the challenge (what the server checks, with one hash). */
export async function verifies(prefix: string, difficulty: number, nonce: string): Promise<boolean> {
  return leadingZeroBits(await sha256(prefix + nonce)) >= difficulty;
}

export interface SolveOptions {
  /** Hashes started together (WebCrypto is asynchronous; a batch keeps it busy). */
  batch?: number;
  /** false forces WebCrypto even in Node (tests of the browser path). */
  nodeFastPath?: boolean;
  /** Gives up after this many attempts (default: 2^(difficulty + 6), ~1e-28 chance of giving up early). */
  maxAttempts?: number;
  signal?: AbortSignal;
}

/**
 * Finds a nonce for `challenge`. Expected work is 2^difficulty hashes (16 → ~65 k, well under a
 * second in a browser). Throws when aborted or after `maxAttempts`.
 */
export async function solveChallenge(challenge: Pick<Challenge, 'challengeId' | 'prefix' | 'difficulty'>, options: SolveOptions = {}): Promise<ChallengeAnswer> {
  const batch = options.batch ?? 256;
  const maxAttempts = options.maxAttempts ?? 2 ** Math.min(52, challenge.difficulty + 6);
  const syncHash = options.nodeFastPath === false ? undefined : nodeSyncHash();
  for (let start = 0; start < maxAttempts; start += batch) {
    if (options.signal?.aborted) throw new Error('challenge solving aborted');
    const nonces = Array.from({ length: batch }, (_, i) => (start + i).toString(36));
    const digests = syncHash
      ? nonces.map((nonce) => syncHash(challenge.prefix + nonce))
      : await Promise.all(nonces.map((nonce) => sha256(challenge.prefix + nonce)));
    const found = digests.findIndex((digest) => leadingZeroBits(digest) >= challenge.difficulty);
    if (found >= 0) return { challengeId: challenge.challengeId, nonce: nonces[found] as string };
  }
  throw new Error(`no nonce found for challenge ${challenge.challengeId} within ${maxAttempts} attempts`);
}
