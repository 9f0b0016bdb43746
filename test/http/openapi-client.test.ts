/**
 * A client generated from the OpenAPI document compiles and works: the document the server serves
 * is turned into TypeScript types by openapi-typescript (as an integrator's build would), the
 * program in openapi-client/ is type-checked against them with tsc, and then run against the
 * server. A route or schema change that breaks generated clients fails here, not at a customer's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TEST_SECRETS } from '../support/env.ts';
import { call, type Json, startTestApp, type TestApp } from '../support/http.ts';

const DIR = fileURLToPath(new URL('./openapi-client/', import.meta.url));
const require = createRequire(import.meta.url);
/** A file of an installed package (its exports map hides its command-line scripts from require.resolve). */
const packageFile = (name: string, file: string) => join(dirname(require.resolve(`${name}/package.json`)), file);

/** Runs a package's command-line script with the Node that runs the tests; rejects with its output on failure. */
function run(script: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: DIR, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

describe('a client generated from the OpenAPI document', () => {
  let t: TestApp;

  before(async () => {
    t = await startTestApp({}, 'oac');
  });
  after(async () => t?.close());

  it('is generated, type-checks a program written against it, and that program runs', async () => {
    const doc = await call(t.url, 'GET', '/docs/json');
    assert.equal(doc.status, 200);
    await mkdir(`${DIR}generated`, { recursive: true });
    await writeFile(`${DIR}generated/openapi.json`, JSON.stringify(doc.body));

    await run(packageFile('openapi-typescript', 'bin/cli.js'), ['generated/openapi.json', '--output', 'generated/api.d.ts']);
    await run(packageFile('typescript', 'bin/tsc'), ['-p', 'tsconfig.json']);

    // A path in a variable: a static import would pull the program into the project's own type
    // check (npm run check), which runs before its types are generated.
    const program = `${DIR}sale.ts`;
    const { sale } = (await import(program)) as { sale: (baseUrl: string, adminToken: string, userToken: string) => Promise<Json> };
    const result = await sale(t.url, TEST_SECRETS.SECKILL_ADMIN_TOKEN, t.token('typed-buyer'));
    assert.equal(result.order.status, 'PENDING_PAYMENT');
    assert.equal(result.order.userId, 'typed-buyer');
    assert.equal(result.refusal, 'you already hold your share');
    assert.equal(result.requestIdEchoed, 'typed-client.1');
  });
});
