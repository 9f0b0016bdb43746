/**
 * The files in deploy/ are checked like code (issue 12): the Prometheus rules and scrape config
 * with promtool (syntax, PromQL, and the rule unit tests), the Grafana dashboard as JSON with
 * sane panels, and every metric named in a rule or a panel must be one the service exports — a
 * renamed metric would otherwise leave an alert that never fires and a panel that stays empty.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { promtool } from './prom.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const RULES = join(ROOT, 'deploy/prometheus/rules.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/seckill.json');

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => join(e.parentPath, e.name));
}

/** Every seckill_* metric the service defines (prom-client `name: '…'`), with histogram suffixes. */
async function exportedMetrics(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const file of await sourceFiles(join(ROOT, 'src'))) {
    for (const [, name] of (await readFile(file, 'utf8')).matchAll(/name: '(seckill_[a-z0-9_]+)'/g)) names.add(name as string);
  }
  return names;
}

async function rules(): Promise<Rule[]> {
  const doc = parse(await readFile(RULES, 'utf8')) as { groups: Array<{ rules: Rule[] }> };
  return doc.groups.flatMap((g) => g.rules);
}

/** The metric names an expression reads (our own and recorded series; `up` is Prometheus's). */
const metricsIn = (expr: string) => [...expr.matchAll(/\b(seckill[_:][a-zA-Z0-9_:]*)/g)].map((m) => m[1] as string);

function assertKnown(expr: string, known: Set<string>, where: string): void {
  for (const name of metricsIn(expr)) {
    const base = name.replace(/_(bucket|sum|count)$/, '');
    assert.ok(known.has(name) || known.has(base), `${where}: ${name} is not a metric the service exports`);
  }
}

describe('deploy/prometheus', () => {
  it('the rules and the scrape config pass promtool check', () => {
    const checked = promtool(['check', 'rules', RULES]);
    assert.equal(checked.status, 0, checked.output);
    const config = promtool(['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')]);
    assert.equal(config.status, 0, config.output);
  });

  it('the alerts behave as their unit tests say (promtool test rules)', () => {
    const tested = promtool(['test', 'rules', join(ROOT, 'deploy/prometheus/rules.test.yml')]);
    assert.equal(tested.status, 0, tested.output);
  });

  it('every rule reads exported metrics; every alert has a severity, a summary and a description', async () => {
    const all = await rules();
    const known = await exportedMetrics();
    for (const r of all) if (r.record) known.add(r.record);
    for (const r of all) {
      assertKnown(r.expr, known, r.record ?? r.alert ?? '?');
      if (!r.alert) continue;
      assert.match(r.labels?.severity ?? '', /^(critical|warning)$/, `${r.alert}: severity`);
      assert.ok(r.annotations?.summary && r.annotations.description, `${r.alert}: summary and description`);
    }
    const alerts = new Set(all.map((r) => r.alert).filter(Boolean));
    for (const name of ['SeckillConsumerLagGrowing', 'SeckillRedisBreakerOpen', 'SeckillHighServerErrorRate', 'SeckillOrdersDeadLettered', 'SeckillRefundsOwed', 'SeckillOutboxBacklog', 'SeckillNotReady']) {
      assert.ok(alerts.has(name), `alert ${name}`);
    }
  });
});

describe('deploy/grafana/seckill.json', () => {
  interface Target {
    refId?: string;
    expr?: string;
    datasource?: { uid?: string };
  }
  interface Panel {
    id: number;
    type: string;
    title?: string;
    datasource?: { type?: string; uid?: string };
    gridPos?: { x: number; y: number; w: number; h: number };
    targets?: Target[];
  }

  it('is a dashboard whose every panel has a data source, a position and queries of exported metrics', async () => {
    const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { uid?: string; title?: string; panels: Panel[] };
    assert.ok(dashboard.uid && dashboard.title);
    const known = await exportedMetrics();
    for (const r of await rules()) if (r.record) known.add(r.record);
    const ids = new Set<number>();
    const exprs: string[] = [];
    for (const panel of dashboard.panels) {
      assert.ok(!ids.has(panel.id), `panel id ${panel.id} is unique`);
      ids.add(panel.id);
      const g = panel.gridPos;
      assert.ok(g && g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0, `${panel.title}: gridPos within 24 columns`);
      if (panel.type === 'row') continue;
      assert.ok(panel.title, `panel ${panel.id} has a title`);
      assert.equal(panel.datasource?.type, 'prometheus', `${panel.title}: data source`);
      assert.ok(panel.datasource?.uid, `${panel.title}: data source uid`);
      assert.ok(panel.targets && panel.targets.length > 0, `${panel.title}: targets`);
      const refIds = new Set<string>();
      for (const target of panel.targets) {
        assert.ok(target.refId && !refIds.has(target.refId), `${panel.title}: unique refId`);
        refIds.add(target.refId);
        assert.ok(target.expr, `${panel.title}: expr`);
        assertKnown(target.expr, known, panel.title ?? '?');
        exprs.push(target.expr);
      }
    }
    const all = exprs.join('\n');
    for (const metric of [
      'seckill_purchase_total',
      'seckill_http_request_duration_seconds_bucket',
      'seckill_orders_persisted_total',
      'seckill_kafka_consumer_lag_messages',
      'seckill_activity_stock_units',
      'seckill_redis_breaker_state',
      'seckill_refunds_owed',
      'seckill_outbox_backlog_rows',
      'seckill_reaper_expired_orders_total',
    ]) {
      assert.ok(all.includes(metric), `a panel shows ${metric}`);
    }

    // PromQL syntax: promtool parses every query as a recording rule (dashboard variables filled in).
    const dir = await mkdtemp(join(tmpdir(), 'seckill-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const rulesOfPanels = exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr: expr.replaceAll('$activity', '.*') }));
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: rulesOfPanels }] }));
      const checked = promtool(['check', 'rules', file]);
      assert.equal(checked.status, 0, checked.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
