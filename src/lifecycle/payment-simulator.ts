/**
 * SECKILL_PAYMENT_SIMULATOR=1: a stand-in payment provider for the demo and the web page. After
 * `pay`, it waits a moment and then calls our callback like a real provider would — over HTTP,
 * signed with SECKILL_PAYMENT_SECRET — succeeding with the configured ratio. It goes through the
 * same signature check and compare-and-set as real callbacks: nothing is special-cased.
 */
import type { Logger } from '../platform/log.ts';
import type { Payment } from '../domain/payment.ts';
import { SIGNATURE_HEADER, signBody } from './payment-callback.ts';

export interface PaymentSimulator {
  readonly enabled: boolean;
  /** Schedules the provider's callback for this payment to `baseUrl`. */
  schedule(payment: Payment, baseUrl: string): void;
  close(): void;
}

export interface SimulatorOptions {
  enabled: boolean;
  secret: string;
  successRatio: number;
  delayMs: number;
  log: Logger;
  random?: () => number;
}

export function createPaymentSimulator(options: SimulatorOptions): PaymentSimulator {
  const log = options.log.child({ component: 'payment-simulator' });
  const random = options.random ?? Math.random;
  const timers = new Set<NodeJS.Timeout>();
  const scheduled = new Set<string>();

  async function callBack(payment: Payment, baseUrl: string): Promise<void> {
    const body = JSON.stringify({
      paymentId: payment.paymentId,
      orderId: payment.orderId,
      status: random() < options.successRatio ? 'SUCCEEDED' : 'FAILED',
      amountCents: payment.amountCents,
    });
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        const response = await fetch(`${baseUrl}/api/v1/payments/callback`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signBody(options.secret, body) },
          body,
          signal: AbortSignal.timeout(5000),
        });
        await response.arrayBuffer();
        if (response.status < 500) return;
      } catch (error) {
        log.warn({ err: error, paymentId: payment.paymentId, attempt }, 'simulated callback failed');
      }
    }
  }

  return {
    enabled: options.enabled,
    schedule(payment, baseUrl) {
      if (!options.enabled || scheduled.has(payment.paymentId)) return;
      scheduled.add(payment.paymentId);
      const timer = setTimeout(() => {
        timers.delete(timer);
        callBack(payment, baseUrl)
          .catch(() => {})
          .finally(() => scheduled.delete(payment.paymentId));
      }, options.delayMs);
      timers.add(timer);
    },
    close() {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}
