/**
 * The demo's live line never wraps: on an 80- or 60-column terminal (colour on or off) its visible
 * width stays below the terminal's, so `\r` keeps redrawing one line. Off a terminal (CI logs) it
 * prints plain periodic lines with no escape codes. The old renderer cut the line after
 * `columns + 20` characters *including* colour codes and failed these assertions.
 */
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import { createProgress, type ProgressSample, terminalLine } from '../../src/demo/progress.ts';

// Large figures make the longest line: ten million units, six-figure request rates.
const sample = (over: Partial<ProgressSample> = {}): ProgressSample => ({
  tMs: 123_456,
  phase: 'draining',
  requests: 2_345_678,
  requestsPerSec: 123_456.7,
  accepted: 9_999_999,
  stock: 10_000_000,
  remaining: 1_234_567,
  available: 1_234_567,
  locked: 8_765_433,
  sold: 1_000,
  persisted: 8_766_433,
  queued: 54_321,
  ...over,
});

/** A stream that looks like a terminal of `columns` columns and keeps what is written to it. */
function terminal(columns: number, isTTY = true) {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean; columns?: number; hasColors?: () => boolean };
  let written = '';
  stream.on('data', (chunk: Buffer) => {
    written += chunk.toString();
  });
  if (isTTY) {
    stream.isTTY = true;
    stream.columns = columns;
    stream.hasColors = () => true;
  }
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => written };
}

const visibleWidth = (line: string) => stripVTControlCharacters(line).length;

for (const columns of [200, 120, 80, 60, 40, 20]) {
  test(`the terminal line fits in ${columns} columns, with and without colour`, () => {
    for (const colour of [true, false]) {
      for (const s of [sample(), sample({ phase: 'buying', tMs: 1200, remaining: 10_000_000, persisted: 0, queued: 0 })]) {
        const line = terminalLine(s, columns, colour);
        assert.ok(visibleWidth(line) <= columns - 1, `${visibleWidth(line)} > ${columns - 1}: ${JSON.stringify(line)}`);
        assert.equal(line.includes('\x1b'), colour, 'escape codes only when colour is on');
        assert.ok(!line.includes('\n'));
      }
    }
  });
}

test('on an 80-column terminal the bar and the main figures are all shown', () => {
  const line = stripVTControlCharacters(terminalLine(sample(), 80, true));
  assert.match(line, /^[█░]{8,} +\d+% draining/);
  assert.match(line, /left 1,234,567\/10,000,000/);
  assert.match(line, /req\/s/);
});

test('a narrow terminal drops the least important figures instead of cutting one in half', () => {
  const line = terminalLine(sample(), 60, false);
  assert.match(line, /^[█░]{8,} +\d+% draining {2}left 1,234,567\/10,000,000/);
  assert.match(line, /(left [\d,/]+|req\/s|\d\.\ds|persisted [\d,]+|queue [\d,]+)$/, 'the line ends on a whole figure');
  assert.ok(!line.includes('sold 1,000'), line);
});

test('every redraw written to a TTY stays one line of at most columns - 1 visible characters', () => {
  for (const columns of [80, 60]) {
    const { stream, text } = terminal(columns);
    const progress = createProgress(stream);
    for (let i = 0; i < 5; i++) progress.update(sample({ tMs: i * 500, remaining: 10_000_000 - i * 2_000_000 }));
    progress.done();
    const redraws = text().split('\r').filter(Boolean);
    assert.equal(redraws.length, 5);
    for (const r of redraws) {
      const redraw = r.replace(/\n$/, ''); // done() ends the last one with a newline
      assert.ok(redraw.endsWith('\x1b[K'), 'each redraw clears the rest of the line');
      const body = redraw.slice(0, -'\x1b[K'.length);
      assert.ok(!body.includes('\n'));
      assert.ok(visibleWidth(body) <= columns - 1, `${visibleWidth(body)} > ${columns - 1}`);
    }
  }
});

test('off a terminal: a plain line every 2 s of samples, no escape codes', () => {
  const { stream, text } = terminal(80, false);
  const progress = createProgress(stream);
  for (let t = 0; t <= 6000; t += 500) progress.update(sample({ tMs: t }));
  progress.log('buying phase over');
  progress.done();
  const lines = text().trimEnd().split('\n');
  assert.equal(text().includes('\x1b'), false);
  assert.equal(text().includes('\r'), false);
  assert.equal(lines.length, 5, lines.join('\n')); // t = 0, 2, 4, 6 s and the message
  assert.match(lines[0]!, /^draining +\d+% taken {2}left 1,234,567\/10,000,000 {2}123,457 req\/s {2}0\.0s/);
  assert.equal(lines[4], 'buying phase over');
});
