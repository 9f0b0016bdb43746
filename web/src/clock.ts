/**
 * The server's clock, as seen from the browser. A phone's clock can be minutes off; the countdown
 * and the buy button follow the server (GET /api/v1/time), corrected for half the round trip of
 * the fastest of a few samples (NTP's idea, without the statistics).
 */
import { api } from './api.ts';

export class ServerClock {
  /** serverTime - localTime, in ms. */
  offsetMs = 0;
  /** Round trip of the sample the offset came from, in ms (the offset is good to about half of it). */
  rttMs = Number.POSITIVE_INFINITY;

  now(): number {
    return Date.now() + this.offsetMs;
  }

  /** Localtime at which the server's clock reads `serverMs`. */
  toLocal(serverMs: number): number {
    return serverMs - this.offsetMs;
  }

  async sync(samples = 4): Promise<void> {
    for (let i = 0; i < samples; i++) {
      const sentAt = performance.now();
      const localAtSend = Date.now();
      try {
        const { epochMs } = await api<{ epochMs: number }>('GET', '/api/v1/time');
        const rtt = performance.now() - sentAt;
        if (rtt < this.rttMs) {
          this.rttMs = rtt;
          this.offsetMs = epochMs - (localAtSend + rtt / 2);
        }
      } catch {
        // keep what we have; the next sync tries again
      }
    }
  }
}
