/**
 * Metrics that are right: every purchase answer is counted once under its outcome —
 * the sold-out answers of the local flag path included — the operator's gauges (consumer lag,
 * stock per activity, outbox backlog, breaker state) describe the real state, and the whole
 * /metrics output passes `promtool check metrics`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call, type Json, startTestApp, type TestApp, waitFor } from '../support/http.ts';
import { callback, pay } from '../lifecycle/helpers.ts';
import { KNOWN_LABELS } from '../../src/platform/metrics.ts';
import { find, parseSamples, promtool, type Sample, total } from './prom.ts';

const scrape = async (t: TestApp): Promise<{ text: string; samples: Sample[] }> => {
  const res = await call(t.url, 'GET', '/metrics');
  assert.equal(res.status, 200);
  const text = String(res.body);
  return { text, samples: parseSamples(text) };
};

describe('/metrics', () => {
  let t: TestApp;
  let sale: Json;
  /** Purchase requests sent, by the outcome each must be counted under. */
  const sent = new Map<string, number>();
  const expectStatus = async (outcome: string, status: number, request: Promise<{ status: number; body: Json }>) => {
    const res = await request;
    assert.equal(res.status, status, `${outcome}: ${res.status} ${JSON.stringify(res.body)}`);
    if (status >= 400) assert.equal(res.body.error.code, outcome);
    sent.set(outcome, (sent.get(outcome) ?? 0) + 1);
    return res;
  };
  let paidOrderId = '';
  /** The first scrape, before any request: what an alert sees from the start. */
  let atStart: Sample[] = [];

  before(async () => {
    t = await startTestApp({}, 'om');
    ({ samples: atStart } = await scrape(t));
    ({ activity: sale } = await t.createSale({ stock: 3, limitPerUser: 1 }));
    const first = await expectStatus('RESERVED', 202, t.buy('u1', sale.id, 'u1-a'));
    assert.deepEqual(Object.keys(first.body).sort(), ['orderId', 'status'], 'the outcome is not sent to the client');
    await expectStatus('REPLAY', 202, t.buy('u1', sale.id, 'u1-a'));
    await expectStatus('LIMIT_EXCEEDED', 409, t.buy('u1', sale.id, 'u1-b'));
    const second = await expectStatus('RESERVED', 202, t.buy('u2', sale.id, 'u2-a'));
    paidOrderId = second.body.orderId;
    await expectStatus('RESERVED', 202, t.buy('u3', sale.id, 'u3-a'));
    // The first sold-out answer comes from the reserve script and raises the local flag; the
    // crowd behind it is answered by the flag without touching the script.
    await expectStatus('SOLD_OUT', 409, t.buy('late-0', sale.id, 'r'));
    assert.ok(t.app.services.soldOut.isSoldOut(sale.id), 'the local sold-out flag is up');
    await Promise.all(Array.from({ length: 6 }, (_, i) => expectStatus('SOLD_OUT', 409, t.buy(`late-${i + 1}`, sale.id, 'r'))));

    const { activity: future } = await t.createSale({ startAt: new Date(Date.now() + 3_600_000), endAt: new Date(Date.now() + 7_200_000) });
    await expectStatus('NOT_STARTED', 403, t.buy('u1', future.id, 'f'));
    const { activity: ending } = await t.createSale({ endAt: new Date(Date.now() + 1500) });
    await new Promise((r) => setTimeout(r, 1700));
    await expectStatus('ENDED', 403, t.buy('u1', ending.id, 'e'));
    await expectStatus('NOT_FOUND', 404, t.buy('u1', '999999999999', 'n'));
    await expectStatus('UNAUTHORIZED', 401, call(t.url, 'POST', `/api/v1/activities/${sale.id}/purchase`, { body: { requestId: 'x', quantity: 1 } }));
    await expectStatus('INVALID_REQUEST', 400, t.buy('u1', sale.id, 'q', 0));

    // Paid in time: one payment started (paying twice counts once), one SUCCEEDED callback.
    await waitFor(async () => (await t.user('u2', 'GET', `/api/v1/orders/${paidOrderId}`)).body.order?.status === 'PENDING_PAYMENT', 30_000, 'order persisted');
    const payment = await pay(t, 'u2', paidOrderId);
    await pay(t, 'u2', paidOrderId);
    const paid = await callback(t, { paymentId: payment.paymentId, orderId: paidOrderId, status: 'SUCCEEDED', amountCents: payment.amountCents });
    assert.equal(paid.status, 200);
  });

  after(async () => {
    await t?.close();
  });

  it('has a zero series for every label an alert or a panel reads, before anything happened', () => {
    const at = (name: string, labels: Record<string, string>) => find(atStart, name, labels);
    const zero = (name: string, label: string, values: readonly string[]) => {
      for (const value of values) {
        const series = at(name, { [label]: value });
        assert.equal(series.length, 1, `${name}{${label}="${value}"} exists at start`);
        assert.equal(series[0]?.value, 0, `${name}{${label}="${value}"} starts at 0`);
      }
    };
    // The first breach must be an increase from 0, not a series appearing at 1 (which increase() reads as 0).
    assert.deepEqual(KNOWN_LABELS.guaranteeBreachKind, ['duplicate_request', 'refused_by_mysql']);
    zero('seckill_guarantee_breaches_total', 'kind', KNOWN_LABELS.guaranteeBreachKind);
    zero('seckill_orders_persisted_total', 'status', KNOWN_LABELS.persistedStatus);
    zero('seckill_purchase_total', 'outcome', KNOWN_LABELS.purchaseOutcome);
    zero('seckill_reconcile_repaired_orders_total', 'kind', KNOWN_LABELS.reconcileRepairKind);
    zero('seckill_ws_refused_total', 'reason', KNOWN_LABELS.wsRefusedReason);
    zero('seckill_ws_closed_total', 'reason', KNOWN_LABELS.wsClosedReason);
    // Scrape-time sources are read by this very scrape; what matters is that each has its series.
    for (const source of ['kafka_lag', 'stock', 'outbox', 'readiness']) {
      assert.equal(at('seckill_scrape_source_failures_total', { source }).length, 1, `seckill_scrape_source_failures_total{source="${source}"} exists at start`);
    }
    for (const name of ['seckill_orders_dead_lettered_total', 'seckill_reconcile_drift_units_total', 'seckill_worker_db_retries_total']) {
      assert.equal(at(name, {}).length, 1, `${name} exists at start`);
    }
  });

  it('counts every purchase answer once, under its outcome (sold-out answers of the local flag included)', async () => {
    const { samples } = await scrape(t);
    for (const [outcome, count] of sent) {
      assert.equal(total(samples, 'seckill_purchase_total', { outcome }), count, `seckill_purchase_total{outcome="${outcome}"}`);
    }
    const requests = [...sent.values()].reduce((a, b) => a + b, 0);
    assert.equal(total(samples, 'seckill_purchase_total'), requests, 'no answer counted twice, none missed');
    // Six script calls reached Redis (three reservations, the replay, the limit, the first
    // sold-out); the flag answered at least some of the six others without the script.
    const reserveCalls = total(samples, 'seckill_redis_script_duration_seconds_count', { script: 'reserve' });
    assert.ok(reserveCalls >= 6 && reserveCalls < 12, `reserve script calls: ${reserveCalls}`);
  });

  it('reports consumer lag per group and partition, stock per open activity and the outbox backlog', async () => {
    const { orders, events, orderWorkerGroup } = t.app.infra.kafka.topics;
    // Cached for a few seconds at scrape time: wait for a scrape that has seen the worker catch up.
    const settled = await waitFor(
      async () => {
        const { samples: s } = await scrape(t);
        const lag = find(s, 'seckill_kafka_consumer_lag_messages', { group: orderWorkerGroup, topic: orders });
        const stock = (state: string) => total(s, 'seckill_activity_stock_units', { activity: sale.id, state });
        const settled = lag.length > 0 && lag.every((p) => p.value === 0) && stock('sold') === 1 && stock('locked') === 2;
        return settled && total(s, 'seckill_outbox_backlog_rows') === 0 ? s : undefined;
      },
      60_000,
      'lag 0, the paid unit sold, the outbox relayed',
    );
    assert.ok(settled);
    const samples = settled;
    const lag = find(samples, 'seckill_kafka_consumer_lag_messages', { group: orderWorkerGroup, topic: orders });
    assert.deepEqual(
      lag.map((p) => Number(p.labels.partition)).sort((a, b) => a - b),
      Array.from({ length: t.app.infra.config.kafka.orderPartitions }, (_, i) => i),
      'one series per partition of the orders topic',
    );
    const eventGroups = new Set(find(samples, 'seckill_kafka_consumer_lag_messages', { topic: events }).map((s) => s.labels.group));
    assert.equal(eventGroups.size, 3, 'the three side-effect consumers');

    const stock = (state: string) => find(samples, 'seckill_activity_stock_units', { activity: sale.id, state })[0]?.value;
    assert.deepEqual(
      { available: stock('available'), locked: stock('locked'), sold: stock('sold'), redis: stock('redis_remaining') },
      { available: 0, locked: 2, sold: 1, redis: 0 },
    );
    assert.equal(total(samples, 'seckill_outbox_oldest_pending_age_seconds'), 0);

    // The activity's name and window, for the dashboard's picker and its sale start/end annotations.
    assert.deepEqual(
      find(samples, 'seckill_activity_info', { activity: sale.id }).map((s) => [s.labels.name, s.value]),
      [[sale.name, 1]],
    );
    assert.equal(find(samples, 'seckill_activity_start_time_seconds', { activity: sale.id })[0]?.value, Date.parse(sale.startAt) / 1000);
    assert.equal(find(samples, 'seckill_activity_end_time_seconds', { activity: sale.id })[0]?.value, Date.parse(sale.endAt) / 1000);
    assert.equal(total(samples, 'seckill_scrape_source_failures_total'), 0, 'no source failed');
  });

  it('counts payments, cache reads, persist and produce latency; the breaker is closed and the process ready', async () => {
    const { samples } = await scrape(t);
    assert.equal(total(samples, 'seckill_payments_initiated_total'), 1, 'paying twice starts one payment');
    assert.equal(total(samples, 'seckill_payment_callbacks_total', { status: 'SUCCEEDED', result: 'paid' }), 1);
    assert.equal(total(samples, 'seckill_redis_breaker_state'), 0);
    assert.equal(total(samples, 'seckill_ready'), 1, 'ready, as /readyz says');
    assert.ok(total(samples, 'seckill_activity_cache_lookups_total', { result: 'hit' }) > 0, 'cache hits');
    assert.ok(total(samples, 'seckill_activity_cache_lookups_total', { result: 'miss' }) > 0, 'cache misses');
    assert.ok(total(samples, 'seckill_activity_cache_loads_total') > 0, 'cache loads');
    assert.ok(total(samples, 'seckill_worker_persist_duration_seconds_count') >= 1, 'persist transactions timed');
    assert.ok(total(samples, 'seckill_kafka_produce_duration_seconds_count', { topic: 'orders', result: 'ok' }) >= 1, 'order produce timed');
    assert.ok(total(samples, 'seckill_kafka_produce_duration_seconds_count', { topic: 'events', result: 'ok' }) >= 1, 'outbox produce timed');
  });

  it('passes promtool check metrics on the whole output', async () => {
    const { text } = await scrape(t);
    const checked = promtool(['check', 'metrics'], text);
    assert.equal(checked.status, 0, checked.output);
    for (const name of [
      'seckill_purchase_shed_total',
      'seckill_reaper_expired_orders_total',
      'seckill_reconcile_drift_units_total',
      'seckill_waitlist_offers_total',
      'seckill_reconcile_repaired_orders_total',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'), `${name} is exposed with help text`);
    }
  });
});
