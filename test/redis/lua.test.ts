/**
 * Lua plumbing: the scripts are pinned by SHA-1 (changing one, or an include it uses, must update
 * the pin here, deliberately), their includes are resolved when the text is loaded, each script is
 * called by exactly one wrapper module, a script round-trips through EVALSHA on the real Redis
 * (seen with MONITOR and INFO commandstats), and survives a SCRIPT FLUSH (ioredis falls back to
 * EVAL on NOSCRIPT). The per-branch behaviour of the scripts is tested in lua-reserve.test.ts.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { closeRedis, createRedis, type RedisClient } from '../../src/redis/client.ts';
import { createKeys } from '../../src/redis/keys.ts';
import { runScript, SCRIPTS } from '../../src/redis/scripts.ts';
import { REDIS_URL, testEnv } from '../support/env.ts';

const SCRIPTS_DIR = new URL('../../src/redis/scripts/', import.meta.url);
const REDIS_DIR = new URL('../../src/redis/', import.meta.url);

/**
 * The SHA-1 of every script the service defines, as Redis runs it (includes resolved). A script
 * change, an include change or a new script must update this map deliberately, in the same change.
 */
const PINNED: Record<string, { file: string; sha: string }> = {
  claimGive: { file: 'claimGive-8.lua', sha: '4aefa3d70d3be80214c20bceade0e3276b98974a' },
  confirm: { file: 'confirm-2.lua', sha: '18c336e2d7216c9367c78b1e1c944baf7685ee7c' },
  lease: { file: 'lease-1.lua', sha: '035e3ca390b684ee9e3e57e1275398a42dfae949' },
  load: { file: 'load-5.lua', sha: '479479745b4e28f13bcd8caf85f665f9e860e6fe' },
  queueAdmit: { file: 'queueAdmit-5.lua', sha: '42d62a8b1ff43456f15be0e002895ce38475b41a' },
  queueBucket: { file: 'queueBucket-1.lua', sha: '092c0f0b053fd1415d90ff6ea990f5f692cc417f' },
  queueJoin: { file: 'queueJoin-6.lua', sha: 'd6a93aa0c67c3cd6e917ec78d5bdff8525931539' },
  queueSweep: { file: 'queueSweep-5.lua', sha: 'ee1e7b404a6165d686411cc42bb9a8e942751509' },
  queueView: { file: 'queueView-5.lua', sha: '08cc98a39759c585869ab6fef8b8d1dfa9107ec9' },
  release: { file: 'release-6.lua', sha: '6199bffb1806fc44abc7f2b95ab42a2fb86f725f' },
  reserve: { file: 'reserve-7.lua', sha: '69b9b629ddaeb424a1204ebbe478c3c39cf442a3' },
  restoreLost: { file: 'restoreLost-7.lua', sha: 'c504f27cb65520e9ca997e5e71bab457303218c0' },
  restock: { file: 'restock-5.lua', sha: '0fb658a33b5abdbcf89d97943d684043d70416fb' },
  stealGive: { file: 'stealGive-3.lua', sha: '8dca5bf5ab6da0e95b95074def205c77b9c7ba2f' },
  stealTake: { file: 'stealTake-5.lua', sha: '18c0f4127cea804815e594f044578f680cbec358' },
  takeChallenge: { file: 'takeChallenge-1.lua', sha: 'c8165d05cd92742bc883d98cedec5356aaa435ca' },
  throttle: { file: 'throttle-1.lua', sha: '02d0fc3e455f9323d5c89ee5d91dc4ff59c53a2b' },
  waitlistClaim: { file: 'waitlistClaim-8.lua', sha: 'd60ae8b9ec15aacc3ccf9107a5a578fc9a577b51' },
  waitlistJoin: { file: 'waitlistJoin-5.lua', sha: 'f1755d5cd2cf51defb57e05da6342b3c7c432d43' },
  waitlistOffer: { file: 'waitlistOffer-6.lua', sha: '1c71d60d3961d3430e42cb5566a500a9942c9e1a' },
  waitlistTake: { file: 'waitlistTake-5.lua', sha: 'be9f0103eba4e92719488e18441b9b4aea9c5355' },
};

const sha1 = (text: string | Buffer) => createHash('sha1').update(text).digest('hex');

const INCLUDE_LINE = /^--- @include "includes\/([A-Za-z]+)"$/;
const includeFile = (name: string) => readFileSync(new URL(`includes/${name}.lua`, SCRIPTS_DIR), 'utf8');
/** The includes a script file names, in order. */
const includesOf = (lua: string) => lua.split('\n').flatMap((line) => INCLUDE_LINE.exec(line)?.[1] ?? []);

describe('Lua script registry', () => {
  test('every include is shared by two scripts or more, and each script names an include at most once', () => {
    const uses = new Map<string, number>();
    for (const pin of Object.values(PINNED)) {
      const named = includesOf(readFileSync(new URL(pin.file, SCRIPTS_DIR), 'utf8'));
      assert.equal(new Set(named).size, named.length, `${pin.file} names an include twice`);
      for (const include of named) uses.set(include, (uses.get(include) ?? 0) + 1);
    }
    const files = readdirSync(new URL('includes/', SCRIPTS_DIR)).map((f) => f.replace(/\.lua$/, '')).sort();
    assert.deepEqual([...uses.keys()].sort(), files, 'every include file is used, and every include used exists');
    for (const [include, count] of uses) assert.ok(count >= 2, `includes/${include}.lua is used once: inline it`);
  });

  test('each script is called by exactly one wrapper module in src/redis/', () => {
    const modules = readdirSync(REDIS_DIR).filter((f) => f.endsWith('.ts') && f !== 'scripts.ts');
    for (const name of Object.keys(PINNED)) {
      const callers = modules.filter((file) => {
        const text = readFileSync(new URL(file, REDIS_DIR), 'utf8');
        return new RegExp(`name: '${name}'|runScript<[^(]*>\\(\\s*\\w+,\\s*'${name}'`).test(text);
      });
      assert.deepEqual(callers.length, 1, `${name} is built by ${callers.join(', ') || 'no module'}`);
    }
  });

  test('exactly the pinned scripts (the purchase path\'s load/reserve/release/restock among them), one per .lua file', () => {
    for (const core of ['load', 'release', 'reserve', 'restock']) assert.ok(SCRIPTS.has(core), core);
    assert.deepEqual([...SCRIPTS.keys()].sort(), Object.keys(PINNED).sort());
    const files = readdirSync(SCRIPTS_DIR)
      .filter((f) => f.endsWith('.lua'))
      .sort();
    assert.deepEqual(files, Object.values(PINNED).map((p) => p.file).sort());
  });

  for (const [name, pin] of Object.entries(PINNED)) {
    test(`${name}: pinned SHA-1, key count and command name`, () => {
      const definition = SCRIPTS.get(name);
      assert.ok(definition, name);
      const onDisk = readFileSync(new URL(pin.file, SCRIPTS_DIR), 'utf8');
      // Each include line stands for its file, once; nothing else of the file changes.
      const expected = onDisk
        .split('\n')
        .map((line) => {
          const include = INCLUDE_LINE.exec(line)?.[1];
          return include === undefined ? line : includeFile(include).trimEnd();
        })
        .join('\n');
      assert.equal(definition.lua, expected, 'the file with its includes resolved');
      assert.doesNotMatch(definition.lua, /@include/);
      assert.equal(definition.sha, sha1(definition.lua), 'sha is the SHA-1 of the script Redis runs');
      assert.equal(definition.sha, pin.sha, `${pin.file} (or an include it uses) changed: update the pin in this test deliberately`);
      assert.equal(definition.numberOfKeys, Number(/-(\d+)\.lua$/.exec(pin.file)![1]));
      assert.equal(definition.command, `sk_${name}_${pin.sha.slice(0, 8)}`);
    });
  }
});

/** MONITOR prints each argument escaped (\\n, \\", \\xNN, ...): back to the raw bytes. */
function unescapeMonitor(text: string): Buffer {
  const bytes: number[] = [];
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', '"': '"', '\\': '\\' };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\\' && i + 1 < text.length) {
      const next = text[i + 1]!;
      if (next === 'x' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 2, i + 4))) {
        bytes.push(Number.parseInt(text.slice(i + 2, i + 4), 16));
        i += 3;
        continue;
      }
      if (next in simple) {
        bytes.push(...Buffer.from(simple[next]!, 'utf8'));
        i += 1;
        continue;
      }
    }
    bytes.push(...Buffer.from(c, 'utf8'));
  }
  return Buffer.from(bytes);
}

interface Seen {
  command: string;
  args: string[];
}

describe('load through EVALSHA on the real Redis', () => {
  const env = testEnv({}, 'lua');
  const activityId = `${Date.now()}${Math.floor(Math.random() * 1000)}`;
  const keys = createKeys(env.config.redis.prefix).activity(activityId);
  const loadSha = SCRIPTS.get('load')!.sha;
  let redis: RedisClient;
  let admin: Redis;
  let monitorBase: Redis;
  let monitor: Redis;
  const seen: Seen[] = [];

  const loadKeys = [keys.nonEmpty, keys.remaining, keys.reservations, keys.waitlist.held, keys.transit];
  const load = (available: number, segments = 3) =>
    runScript<[number, number, number]>(redis, 'load', loadKeys, [keys.segmentPrefix, segments, available]);

  /** Top-level EVAL/EVALSHA calls seen by MONITOR that touch this test's keys. */
  const scriptCalls = () => seen.filter((s) => (s.command === 'eval' || s.command === 'evalsha') && s.args.includes(keys.remaining));

  async function waitForCalls(count: number): Promise<Seen[]> {
    const deadline = Date.now() + 5000;
    while (scriptCalls().length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return scriptCalls();
  }

  async function evalshaCalls(): Promise<number> {
    const info = await admin.info('commandstats');
    const match = /^cmdstat_evalsha:calls=(\d+)/m.exec(info);
    return match ? Number(match[1]) : 0;
  }

  async function segments(count: number): Promise<number[]> {
    const values = await admin.mget(...Array.from({ length: count }, (_, i) => `${keys.segmentPrefix}${i}`));
    return values.map((v) => Number(v));
  }

  before(async () => {
    redis = createRedis(env.config.redis);
    admin = new Redis(REDIS_URL);
    // monitor() opens a dedicated duplicate connection; the base one is closed in after().
    monitorBase = new Redis(REDIS_URL);
    monitor = await monitorBase.monitor();
    monitor.on('monitor', (_time: string, args: string[]) => {
      const [command, ...rest] = args;
      seen.push({ command: String(command).toLowerCase(), args: rest.map(String) });
    });
  });

  after(async () => {
    monitor?.disconnect();
    monitorBase?.disconnect();
    admin?.disconnect();
    if (redis) await closeRedis(redis);
    await env.cleanup();
  });

  test('returns [before, after, inFlight] and spreads units over the segments', async () => {
    assert.deepEqual(await load(10), [-1, 10, 0]);
    assert.equal(await admin.get(keys.remaining), '10');
    assert.deepEqual(await segments(3), [4, 3, 3]);
    assert.deepEqual((await admin.smembers(keys.nonEmpty)).sort(), ['0', '1', '2']);

    // Units reserved but not yet settled are held back from what Redis offers.
    await admin.hset(keys.reservations, '9001', 'u1|2|1700000000000|req-1');
    assert.deepEqual(await load(10), [10, 8, 2]);
    assert.deepEqual(await segments(3), [3, 3, 2]);
    assert.deepEqual(await load(10), [8, 8, 2], 'unchanged target: nothing rewritten');

    assert.deepEqual(await load(1), [8, 0, 2], 'never below zero');
    assert.deepEqual(await segments(3), [0, 0, 0]);
    assert.deepEqual(await admin.smembers(keys.nonEmpty), []);

    // Units held for waitlisted users are not on open sale either.
    await admin.set(keys.waitlist.held, '3');
    assert.deepEqual(await load(10), [0, 5, 2]);
    await admin.del(keys.waitlist.held);
    assert.deepEqual(await load(2), [5, 0, 2]);
  });

  test('the call goes out as EVALSHA of the pinned script', async () => {
    const statsBefore = await evalshaCalls();
    const already = scriptCalls().length;
    assert.deepEqual(await load(5), [0, 3, 2]);
    const calls = (await waitForCalls(already + 1)).slice(already);
    assert.equal(calls.length, 1, JSON.stringify(calls));
    assert.equal(calls[0]!.command, 'evalsha', 'the script was already loaded on this connection');
    assert.equal(calls[0]!.args[0], loadSha);
    assert.deepEqual(calls[0]!.args.slice(1), [String(loadKeys.length), ...loadKeys, keys.segmentPrefix, '3', '5']);
    assert.ok((await evalshaCalls()) > statsBefore, 'INFO commandstats counts the EVALSHA');
    assert.deepEqual(await admin.script('EXISTS', loadSha), [1]);
  });

  test('after SCRIPT FLUSH the script still runs (NOSCRIPT → EVAL), then EVALSHA again', async () => {
    await admin.script('FLUSH');
    assert.deepEqual(await admin.script('EXISTS', loadSha), [0]);
    const already = scriptCalls().length;

    assert.deepEqual(await load(7), [3, 5, 2]);
    assert.deepEqual(await admin.script('EXISTS', loadSha), [1], 'the fallback EVAL reloaded it');
    assert.deepEqual(await load(7), [5, 5, 2]);

    const calls = (await waitForCalls(already + 3)).slice(already);
    assert.deepEqual(
      calls.map((c) => c.command),
      ['evalsha', 'eval', 'evalsha'],
      'EVALSHA answered NOSCRIPT, EVAL loaded the script, the next call used EVALSHA',
    );
    assert.equal(sha1(unescapeMonitor(calls[1]!.args[0]!)), loadSha, 'EVAL sent the load script body');
    assert.equal(calls[2]!.args[0], loadSha);
  });
});

describe('lease-1.lua (Snowflake worker id leases)', () => {
  const env = testEnv({}, 'lease');
  const key = `${env.config.redis.prefix}:worker:7`;
  let redis: RedisClient;
  before(() => {
    redis = createRedis({ nodes: [REDIS_URL], cluster: false });
  });
  after(async () => {
    await redis.del(key);
    await closeRedis(redis);
  });

  test('extends its own lease, takes back a vanished one, and refuses one another process holds', async () => {
    await redis.set(key, 'me', 'PX', 30_000);
    assert.equal(await runScript<number>(redis, 'lease', [key], ['me', 60_000]), 1);
    assert.ok((await redis.pttl(key)) > 30_000, 'extended');
    // Redis wiped (or failed over without it): the lease is gone; renewing takes it back.
    await redis.del(key);
    assert.equal(await runScript<number>(redis, 'lease', [key], ['me', 60_000]), 1);
    assert.equal(await redis.get(key), 'me');
    // Another process leased it meanwhile: not ours any more.
    await redis.set(key, 'other', 'PX', 30_000);
    assert.equal(await runScript<number>(redis, 'lease', [key], ['me', 60_000]), 0);
    assert.equal(await redis.get(key), 'other');
    // Dropping only drops our own.
    assert.equal(await runScript<number>(redis, 'lease', [key], ['me', 0]), 0);
    assert.equal(await redis.get(key), 'other');
  });
});
