/**
 * The files in deploy/ are checked like code: the Prometheus rules and scrape config
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
const RULE_TESTS = join(ROOT, 'deploy/prometheus/rules.test.yml');
const RUNBOOK = join(ROOT, 'docs/runbook.md');
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

/**
 * The anchors GitHub (and most Markdown renderers) give headings: lower case, punctuation other than
 * `-` and `_` dropped, spaces turned into `-`.
 */
function githubAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const [, heading] of markdown.matchAll(/^#{1,6}\s+(.+?)\s*#*$/gm)) {
    anchors.add((heading as string).toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-'));
  }
  return anchors;
}

/** Each aggregation in a PromQL expression, with the labels of its `by` clause (undefined: none). */
function aggregations(expr: string): Array<[string, string[] | undefined]> {
  const found: Array<[string, string[] | undefined]> = [];
  for (const m of expr.matchAll(/\b(sum|max|min|avg|count|topk|bottomk|quantile|stddev|stdvar|group)\s*(?:(by|without)\s*\(([^)]*)\))?\s*\(/g)) {
    const labels = m[2] === 'by' ? (m[3] ?? '').split(',').map((l) => l.trim()) : undefined;
    found.push([m[0], labels]);
  }
  return found;
}

describe('deploy/prometheus', () => {
  it('the rules and the scrape config pass promtool check', () => {
    const checked = promtool(['check', 'rules', RULES]);
    assert.equal(checked.status, 0, checked.output);
    const config = promtool(['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')]);
    assert.equal(config.status, 0, config.output);
  });

  it('the alerts behave as their unit tests say (promtool test rules)', () => {
    const tested = promtool(['test', 'rules', RULE_TESTS]);
    assert.equal(tested.status, 0, tested.output);
  });

  it('every alert has a unit test in which it fires', async () => {
    interface AlertTest {
      alertname: string;
      exp_alerts?: unknown[];
    }
    const doc = parse(await readFile(RULE_TESTS, 'utf8')) as { tests: Array<{ alert_rule_test?: AlertTest[] }> };
    const firing = new Set(
      doc.tests.flatMap((t) => t.alert_rule_test ?? []).filter((a) => (a.exp_alerts?.length ?? 0) > 0).map((a) => a.alertname),
    );
    const untested = (await rules()).filter((r) => r.alert && !firing.has(r.alert)).map((r) => r.alert);
    assert.deepEqual(untested, [], 'alerts without a firing case in rules.test.yml');
  });

  it('every alert links a runbook section that exists in docs/runbook.md', async () => {
    const anchors = githubAnchors(await readFile(RUNBOOK, 'utf8'));
    for (const r of await rules()) {
      if (!r.alert) continue;
      const url = r.annotations?.runbook_url ?? '';
      const match = /^docs\/runbook\.md#([a-z0-9_-]+)$/.exec(url);
      assert.ok(match, `${r.alert}: runbook_url "${url}" is docs/runbook.md#<section>`);
      assert.ok(anchors.has(match[1] as string), `${r.alert}: docs/runbook.md has no section #${match[1]}`);
      assert.equal(match[1], r.alert.toLowerCase(), `${r.alert}: its runbook section is named after it`);
    }
  });

  it('every aggregation keeps job, so two deployments never merge into one figure or alert', async () => {
    for (const r of await rules()) {
      for (const [clause, labels] of aggregations(r.expr)) {
        assert.ok(labels?.includes('job'), `${r.record ?? r.alert}: "${clause}" drops job`);
      }
    }
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
    for (const name of [
      'SeckillConsumerLagGrowing',
      'SeckillOrderPipelineStalled',
      'SeckillPurchaseLatencyHigh',
      'SeckillGuaranteeBreach',
      'SeckillRedisBreakerOpen',
      'SeckillHighServerErrorRate',
      'SeckillOrdersDeadLettered',
      'SeckillRefundsOwed',
      'SeckillOutboxBacklog',
      'SeckillNotReady',
    ]) {
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
    fieldConfig?: { defaults?: { unit?: string } };
  }
  interface Variable {
    name: string;
    type: string;
    query?: string | { query?: string };
    regex?: string;
    multi?: boolean;
    includeAll?: boolean;
  }
  interface Annotation {
    name: string;
    builtIn?: number;
    datasource?: { type?: string; uid?: string };
    enable?: boolean;
    expr?: string;
    useValueForTime?: boolean;
    titleFormat?: string;
  }
  interface Dashboard {
    uid?: string;
    title?: string;
    panels: Panel[];
    templating: { list: Variable[] };
    annotations: { list: Annotation[] };
  }

  const load = async () => JSON.parse(await readFile(DASHBOARD, 'utf8')) as Dashboard;
  const panelsWithQueries = (d: Dashboard) => d.panels.filter((p) => p.type !== 'row');
  const promAnnotations = (d: Dashboard) => d.annotations.list.filter((a) => a.datasource?.type === 'prometheus');
  const variableQuery = (v: Variable) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? ''));
  /** The PromQL inside a variable's query: label_values(<selector>, label) or query_result(<expr>). */
  const variablePromql = (v: Variable) => {
    const q = variableQuery(v);
    return /^label_values\((.*),\s*\w+\)$/.exec(q)?.[1] ?? /^query_result\((.*)\)$/.exec(q)?.[1] ?? q;
  };

  /** Each selector of a metric (ours, and Prometheus's `up`) in an expression, with its matchers. */
  const selectors = (expr: string) =>
    [...expr.matchAll(/\b(seckill_[a-z0-9_]+|up)\b(?:\{([^}]*)\})?/g)].map((m) => ({ metric: m[1] as string, matchers: m[2] ?? '' }));

  /** What a query's values measure: a unit-correct panel never mixes two of these on one axis. */
  const measures = (expr: string) => {
    if (/histogram_quantile|_seconds(?![a-z_])/.test(expr)) return 'seconds';
    if (/\b(rate|irate)\(/.test(expr)) return expr.includes(' / ') ? 'ratio' : 'per second';
    return 'amount';
  };

  it('is a dashboard whose every panel has a data source, a position and queries of exported metrics', async () => {
    const dashboard = await load();
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
    for (const a of promAnnotations(dashboard)) {
      assert.ok(a.expr, `annotation ${a.name}: expr`);
      assertKnown(a.expr, known, `annotation ${a.name}`);
      exprs.push(a.expr);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
      assertKnown(variablePromql(v), known, `variable ${v.name}`);
      exprs.push(variablePromql(v));
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

    // PromQL syntax: promtool parses every query (panels, annotations, variables) as a recording rule,
    // with the dashboard's variables filled in as Grafana would.
    const dir = await mkdtemp(join(tmpdir(), 'seckill-dashboard-'));
    try {
      const file = join(dir, 'dashboard-queries.yml');
      const filled = (expr: string) => expr.replaceAll('$job', 'seckill').replace(/\$(instance|activity)\b/g, '.*');
      const rulesOfPanels = exprs.map((expr, i) => ({ record: `dashboard:query_${i}`, expr: filled(expr) }));
      await writeFile(file, JSON.stringify({ groups: [{ name: 'dashboard', rules: rulesOfPanels }] }));
      const checked = promtool(['check', 'rules', file]);
      assert.equal(checked.status, 0, checked.output);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('has job and instance variables, and every query keeps to the chosen job and instances', async () => {
    const dashboard = await load();
    const variable = (name: string) => dashboard.templating.list.find((v) => v.name === name);
    const job = variable('job');
    assert.equal(job?.type, 'query');
    assert.match(variableQuery(job), /^label_values\(seckill_[a-z_]+, job\)$/);
    // One deployment at a time: a multi-valued job would merge two deployments again.
    assert.ok(!job.multi && !job.includeAll, 'job is single-valued');
    const instance = variable('instance');
    assert.match(variableQuery(instance ?? { name: '', type: '' }), /^label_values\(seckill_[a-z_]+\{job="\$job"\}, instance\)$/);

    const queries = [
      ...panelsWithQueries(dashboard).flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title ?? '?', expr: t.expr ?? '' }))),
      ...promAnnotations(dashboard).map((a) => ({ where: `annotation ${a.name}`, expr: a.expr ?? '' })),
    ];
    for (const { where, expr } of queries) {
      const found = selectors(expr);
      assert.ok(found.length > 0, `${where}: reads a metric`);
      for (const { metric, matchers } of found) {
        assert.match(matchers, /(^|,\s*)job="\$job"(,|$)/, `${where}: ${metric} is filtered by job="$job"`);
        assert.match(matchers, /(^|,\s*)instance=~"\$instance"(,|$)/, `${where}: ${metric} is filtered by instance=~"$instance"`);
      }
    }
  });

  it('picks activities by name: the variable reads seckill_activity_info and shows its name', async () => {
    const dashboard = await load();
    const activity = dashboard.templating.list.find((v) => v.name === 'activity');
    assert.ok(activity, 'an activity variable');
    assert.match(variableQuery(activity), /^query_result\(.*seckill_activity_info\{job="\$job", instance=~"\$instance"\}.*\)$/);
    // Grafana's named capture groups: the option shows `text` (the name) and filters by `value` (the id).
    const regex = /^\/(.*)\/$/.exec(activity.regex ?? '')?.[1];
    assert.ok(regex, 'a regex');
    const groups = new RegExp(regex).exec('{activity="42",name="Bottle \\"Limited\\" 2026"} 1 1795262400000')?.groups;
    assert.deepEqual({ ...groups }, { value: '42', text: 'Bottle \\"Limited\\" 2026' });
    const stock = panelsWithQueries(dashboard).find((p) => p.targets?.some((t) => t.expr?.includes('seckill_activity_stock_units')));
    assert.ok(stock?.targets?.every((t) => t.expr?.includes('activity=~"$activity"')), 'the stock panel follows the picker');
  });

  it('gives every panel a unit and never puts two kinds of values on one axis', async () => {
    for (const panel of panelsWithQueries(await load())) {
      const unit = panel.fieldConfig?.defaults?.unit;
      assert.ok(unit, `${panel.title}: a unit`);
      const kinds = new Set((panel.targets ?? []).map((t) => measures(t.expr ?? '')));
      assert.equal(kinds.size, 1, `${panel.title}: one kind of value per panel, got ${[...kinds].join(' and ')}`);
      const [kind] = kinds;
      if (kind === 'seconds') assert.equal(unit, 's', `${panel.title}: seconds`);
      if (kind === 'per second') assert.match(unit, /^(reqps|ops)$/, `${panel.title}: a rate unit`);
      if (kind === 'amount') assert.doesNotMatch(unit, /^(s|ms|reqps|ops|percentunit)$/, `${panel.title}: a count, not ${unit}`);
    }
  });

  it('marks sale start and end with annotations Grafana renders from the window gauges', async () => {
    const annotations = promAnnotations(await load());
    for (const [edge, metric] of [
      ['start', 'seckill_activity_start_time_seconds'],
      ['end', 'seckill_activity_end_time_seconds'],
    ] as const) {
      const a = annotations.find((x) => x.expr?.includes(metric));
      assert.ok(a, `an annotation reads ${metric}`);
      assert.equal(a.enable, true, `${a.name}: on by default`);
      // "Series value as timestamp": Grafana places the event at the value, read as milliseconds.
      assert.equal(a.useValueForTime, true, `${a.name}: the value is the time`);
      assert.match(a.expr ?? '', /\*\s*1000\s*$/, `${a.name}: seconds turned into milliseconds`);
      assert.match(a.expr ?? '', /activity=~"\$activity"/, `${a.name}: follows the activity picker`);
      assert.match(a.titleFormat ?? '', new RegExp(`${edge}.*\\{\\{name\\}\\}`, 'i'), `${a.name}: titled with the activity's name`);
    }
  });
});
