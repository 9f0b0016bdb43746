/**
 * report.json (everything, for machines and tests) and report.html (self-contained: inline SVG
 * charts, no script, no network; see report-html.ts) for people.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DemoReport } from './report-model.ts';
import { renderHtml } from './report-html.ts';

export function writeReport(dir: string, report: DemoReport): { json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(html, renderHtml(report));
  return { json, html };
}
