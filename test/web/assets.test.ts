/**
 * The web assets at the HTTP level (a page that survives the crowd): every asset a page
 * loads has a content-hashed name and is cacheable forever (`immutable`), comes precompressed
 * (brotli or gzip, as the client accepts, with `Vary: Accept-Encoding`) and decodes to exactly the
 * uncompressed bytes; the HTML pages are revalidated by ETag (304); a malformed sale id gets a
 * friendly HTML page instead of the API's 400 JSON; /favicon.ico exists.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { startTestApp, type TestApp } from '../support/http.ts';

interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A GET whose body is NOT decoded (fetch would undo the Content-Encoding we want to check). */
function rawGet(url: string, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const IMMUTABLE = 'public, max-age=31536000, immutable';
const HASHED = /^\/assets\/[A-Za-z.-]+-[A-Z0-9]{8}(\.min)?\.(js|css|svg)$/;

describe('web assets: hashed, immutable, precompressed', { timeout: 120_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({}, 'webassets');
  });
  after(async () => {
    await t?.close();
  });

  /** The /assets/ URLs an HTML page references (stylesheets, icon, script). */
  const referenced = (html: string) => [...html.matchAll(/(?:href|src)="(\/assets\/[^"]+)"/g)].map((m) => m[1] as string);

  test('the pages reference only hashed assets, each immutable, compressed, and identical once decoded', async () => {
    const product = await rawGet(`${t.url}/activities/123`);
    const admin = await rawGet(`${t.url}/admin`);
    const assets = new Set([...referenced(product.body.toString()), ...referenced(admin.body.toString())]);
    // style + icon + product.js; uPlot css + admin.js
    assert.ok(assets.size >= 5, `assets referenced: ${[...assets].join(', ')}`);
    for (const path of assets) {
      assert.match(path, HASHED, `${path} has a content hash in its name`);
      const plain = await rawGet(t.url + path);
      assert.equal(plain.status, 200, path);
      assert.equal(plain.headers['cache-control'], IMMUTABLE, path);
      assert.equal(plain.headers['content-encoding'], undefined, `${path}: no encoding unless asked`);
      assert.match(String(plain.headers.vary), /accept-encoding/i, path);

      const br = await rawGet(t.url + path, { 'accept-encoding': 'gzip, deflate, br' });
      assert.equal(br.status, 200, path);
      assert.equal(br.headers['content-encoding'], 'br', `${path}: brotli preferred`);
      assert.equal(br.headers['cache-control'], IMMUTABLE, path);
      assert.match(String(br.headers.vary), /accept-encoding/i, path);
      assert.ok(br.body.length < plain.body.length, `${path}: brotli is smaller`);
      assert.deepEqual(brotliDecompressSync(br.body), plain.body, `${path}: brotli decodes to the same bytes`);

      const gz = await rawGet(t.url + path, { 'accept-encoding': 'gzip' });
      assert.equal(gz.headers['content-encoding'], 'gzip', path);
      assert.deepEqual(gunzipSync(gz.body), plain.body, `${path}: gzip decodes to the same bytes`);
      if (path.endsWith('.css')) assert.match(String(br.headers['content-type']), /^text\/css/, path);
      if (path.endsWith('.js')) assert.match(String(br.headers['content-type']), /javascript/, path);
    }
    // The product bundle starts its anti-bot worker from a hashed URL too.
    const script = [...assets].find((p) => p.includes('/product-')) as string;
    const code = (await rawGet(t.url + script)).body.toString();
    const worker = /\/assets\/challenge-worker-[A-Z0-9]{8}\.js/.exec(code)?.[0];
    assert.ok(worker, 'the worker URL in product.js is hashed');
    const workerReply = await rawGet(t.url + worker);
    assert.equal(workerReply.status, 200);
    assert.equal(workerReply.headers['cache-control'], IMMUTABLE);
    // Unhashed names are gone: nothing can be cached under a name whose content changes.
    for (const stale of ['/assets/product.js', '/assets/style.css', '/assets/admin.js']) {
      assert.equal((await rawGet(t.url + stale)).status, 404, stale);
    }
  });

  test('the HTML pages are short-lived, compressed and revalidated by ETag', async () => {
    for (const page of ['/activities/123', '/admin']) {
      const first = await rawGet(t.url + page, { 'accept-encoding': 'br' });
      assert.equal(first.status, 200, page);
      assert.match(String(first.headers['content-type']), /^text\/html/, page);
      assert.equal(first.headers['content-encoding'], 'br', page);
      const cacheControl = String(first.headers['cache-control']);
      assert.match(cacheControl, /max-age=0/, `${page}: browsers revalidate (${cacheControl})`);
      assert.doesNotMatch(cacheControl, /immutable/, page);
      const etag = first.headers.etag;
      assert.ok(typeof etag === 'string' && etag.length > 0, `${page} has an ETag`);
      const again = await rawGet(t.url + page, { 'accept-encoding': 'br', 'if-none-match': etag });
      assert.equal(again.status, 304, `${page}: unchanged → 304`);
      assert.equal(again.body.length, 0);
    }
  });

  test('a malformed sale id gets a friendly HTML page, not the raw 400 JSON', async () => {
    for (const bad of ['/activities/abc', '/activities/0123', '/activities/12a', '/activities/123456789012345678901']) {
      const reply = await rawGet(t.url + bad, { accept: 'text/html' });
      assert.equal(reply.status, 404, bad);
      assert.match(String(reply.headers['content-type']), /^text\/html/, bad);
      const html = reply.body.toString();
      assert.match(html, /We could not find that sale/, bad);
      assert.doesNotMatch(html, /INVALID_REQUEST/, bad);
      for (const path of referenced(html)) assert.equal((await rawGet(t.url + path)).status, 200, `${bad} → ${path}`);
    }
  });

  test('/favicon.ico answers with the icon', async () => {
    const icon = await rawGet(`${t.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.match(String(icon.headers['content-type']), /^image\/svg\+xml/);
    assert.match(icon.body.toString(), /^<svg /);
    assert.match(String(icon.headers['cache-control']), /max-age=86400/);
  });
});
