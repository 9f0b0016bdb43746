/**
 * What every part of the product page shares: the activity id from the URL, the server clock, the
 * page's elements, the buyer's state, the message line, and the render hook. Parts change the state
 * and call render(); the page (product.ts) decides what that draws, so no part imports the page.
 */
import { $, type Order, type PublicActivity, type Ticket, type Waitlist } from '../api.ts';
import { ServerClock } from '../clock.ts';

export const activityId = /^\/activities\/([1-9][0-9]{0,19})\/?$/.exec(location.pathname)?.[1] ?? '';
export const clock = new ServerClock();

export const ui = {
  buy: $('buy') as HTMLButtonElement,
  pay: $('pay') as HTMLButtonElement,
  cancel: $('cancel') as HTMLButtonElement,
  join: $('join-waitlist') as HTMLButtonElement,
  leave: $('leave-waitlist') as HTMLButtonElement,
  message: $('message'),
  countdown: $('countdown'),
  status: $('status'),
  remaining: $('remaining'),
  soldPercent: $('sold-percent'),
  soldBar: $('sold-bar'),
  startTime: $('start-time'),
  progress: $('challenge-progress') as HTMLProgressElement,
  progressText: $('challenge-text'),
  leaveQueue: $('leave-queue') as HTMLButtonElement,
};

export interface Solved {
  challengeId: string;
  nonce: string;
  expiresAtMs: number;
}

export const state: {
  activity: PublicActivity | undefined;
  token: string | undefined;
  userId: string | undefined;
  order: Order | undefined;
  waitlist: Waitlist | undefined;
  /** The buyer's place in the sale's waiting room (sales with one). */
  ticket: Ticket | undefined;
  /** Set by a SOLD_OUT answer, so the button does not wait for the (cached) detail to catch up. */
  soldOut: boolean;
  busy: boolean;
  paying: boolean;
  wsOpen: boolean;
  /** A challenge fetched and being solved before the start, so the Buy click does not wait for it. */
  presolved: Promise<Solved> | undefined;
} = {
  activity: undefined,
  token: localStorage.getItem('seckill.token') ?? undefined,
  userId: localStorage.getItem('seckill.userId') ?? undefined,
  order: undefined,
  waitlist: undefined,
  ticket: undefined,
  soldOut: false,
  busy: false,
  paying: false,
  wsOpen: false,
  presolved: undefined,
};

export function say(text: string, kind: 'info' | 'error' | 'ok' = 'info'): void {
  ui.message.textContent = text;
  ui.message.dataset.kind = kind;
}

let renderer: () => void = () => {};

/** Sets what render() draws (product.ts, once). */
export function setRenderer(draw: () => void): void {
  renderer = draw;
}

/** Redraws everything time- or state-dependent. */
export function render(): void {
  renderer();
}
