/** Signing in (the dev token endpoint, or a pasted token) and out; a session lives in localStorage. */
import { $, ApiError, api } from '../api.ts';
import { forgetPresolved, schedulePresolve } from './challenge.ts';
import { renderIdentity } from './identity.ts';
import { connectSocket, disconnect } from './live.ts';
import { loadMine } from './order.ts';
import { say, state } from './page.ts';

function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(atob((token.split('.')[1] ?? '').replace(/-/g, '+').replace(/_/g, '/'))) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

function signedIn(token: string, userId: string): void {
  state.token = token;
  state.userId = userId;
  localStorage.setItem('seckill.token', token);
  localStorage.setItem('seckill.userId', userId);
  renderIdentity();
  connectSocket();
  void loadMine();
  schedulePresolve();
}

$('signin').addEventListener('submit', async (event) => {
  event.preventDefault();
  const userId = ($('user-id') as HTMLInputElement).value.trim();
  try {
    const { token } = await api<{ token: string }>('POST', '/api/v1/dev/token', { body: { userId } });
    say(`Welcome, ${userId}.`, 'ok');
    signedIn(token, userId);
  } catch (error) {
    if (error instanceof ApiError && error.code === 'NOT_FOUND') {
      say('Dev sign-in is turned off on this server. Paste a token you were given instead.', 'error');
      ($('signin').querySelector('details') as HTMLDetailsElement).open = true;
    } else {
      say(error instanceof ApiError ? error.human : String(error), 'error');
    }
  }
});

$('use-token').addEventListener('click', () => {
  const token = ($('token-input') as HTMLInputElement).value.trim();
  const userId = subjectOf(token);
  if (!userId) return say('That does not look like a sign-in token.', 'error');
  signedIn(token, userId);
});

$('signout').addEventListener('click', () => {
  localStorage.removeItem('seckill.token');
  localStorage.removeItem('seckill.userId');
  state.token = undefined;
  state.userId = undefined;
  state.order = undefined;
  state.waitlist = undefined;
  forgetPresolved();
  disconnect();
  renderIdentity();
});
