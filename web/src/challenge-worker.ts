/**
 * Web Worker: solves the anti-bot challenge off the main thread so the page (countdown, progress
 * bar) stays responsive. In: {prefix, difficulty}. Out: {type: 'progress', ...} then {type: 'done', nonce}.
 */
import { solve } from './pow.ts';

interface WorkerScope {
  onmessage: ((event: MessageEvent<{ prefix: string; difficulty: number }>) => void) | null;
  postMessage(message: unknown): void;
}

const scope = self as unknown as WorkerScope;

scope.onmessage = (event) => {
  const { prefix, difficulty } = event.data;
  const started = performance.now();
  solve(prefix, difficulty, (progress) => scope.postMessage({ type: 'progress', ...progress }))
    .then(({ nonce, attempts }) => scope.postMessage({ type: 'done', nonce, attempts, ms: performance.now() - started }))
    .catch((error: unknown) => scope.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) }));
};
