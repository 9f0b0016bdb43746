/** Who is buying: the sign-in panel's state, and API calls made as the signed-in user. */
import { $, ApiError, api } from '../api.ts';
import { render, state } from './page.ts';

export function renderIdentity(): void {
  $('signin').hidden = state.token !== undefined;
  $('whoami').hidden = state.token === undefined;
  $('whoami-name').textContent = state.userId ?? '';
  render();
}

/** A call as the signed-in user; a 401 signs out (the token expired or the secret changed). */
export async function userApi<T>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
  try {
    return await api<T>(method, path, { token: state.token, body, ...(headers ? { headers } : {}) });
  } catch (error) {
    if (error instanceof ApiError && error.code === 'UNAUTHORIZED') {
      localStorage.removeItem('seckill.token');
      state.token = undefined;
      renderIdentity();
    }
    throw error;
  }
}
