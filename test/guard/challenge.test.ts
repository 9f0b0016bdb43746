/**
 * Anti-bot challenge (docs/api.md): missing → CHALLENGE_REQUIRED; wrong, expired, reused or
 * someone else's → CHALLENGE_FAILED; solved → 202. Solved with the shipped client helper.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Challenge, leadingZeroBits, sha256, solveChallenge, verifies } from '../../src/client/challenge.ts';
import { startTestApp, type TestApp } from '../support/http.ts';
import { createActivity } from './helpers.ts';

describe('client helper', () => {
  test('leadingZeroBits', () => {
    assert.equal(leadingZeroBits(new Uint8Array([0, 0, 0x80])), 16);
    assert.equal(leadingZeroBits(new Uint8Array([0, 0x0f])), 12);
    assert.equal(leadingZeroBits(new Uint8Array([0xff])), 0);
    assert.equal(leadingZeroBits(new Uint8Array([0, 0])), 16);
  });

  test('solves a challenge whose answer the server-side check accepts', async () => {
    const answer = await solveChallenge({ challengeId: 'c', prefix: 'abc', difficulty: 16 });
    assert.ok(await verifies('abc', 16, answer.nonce));
    assert.ok(leadingZeroBits(await sha256(`abc${answer.nonce}`)) >= 16);
  });

  test('the WebCrypto (browser) path finds the same nonce', async () => {
    const fast = await solveChallenge({ challengeId: 'c', prefix: 'xyz', difficulty: 8 });
    const web = await solveChallenge({ challengeId: 'c', prefix: 'xyz', difficulty: 8 }, { nodeFastPath: false });
    assert.equal(web.nonce, fast.nonce);
  });
});

describe('challenge on a running instance', () => {
  let t: TestApp;
  let activity: { id: string };
  const DIFFICULTY = 10;

  const issue = async (user: string, activityId = activity.id) => t.user(user, 'POST', `/api/v1/activities/${activityId}/challenge`);
  const buy = (user: string, requestId: string, challenge?: { challengeId: string; nonce: string }) =>
    t.user(user, 'POST', `/api/v1/activities/${activity.id}/purchase`, { requestId, ...(challenge ? { challenge } : {}) });
  async function solved(user: string) {
    const r = await issue(user);
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { challenge: r.body.challenge as Challenge, answer: await solveChallenge(r.body.challenge) };
  }
  async function wrongNonce(c: Challenge): Promise<string> {
    for (let i = 0; ; i++) if (!(await verifies(c.prefix, c.difficulty, `x${i}`))) return `x${i}`;
  }

  before(async () => {
    t = await startTestApp({}, 'chal');
    activity = await createActivity(t, { stock: 100, limitPerUser: 10, antiBot: 'challenge', challengeDifficulty: DIFFICULTY });
  });
  after(async () => {
    await t?.close();
  });

  test('issuing: 201 with the contract shape', async () => {
    const r = await issue('alice');
    assert.equal(r.status, 201);
    const c = r.body.challenge;
    assert.equal(c.algorithm, 'sha256');
    assert.equal(c.difficulty, DIFFICULTY);
    assert.equal(typeof c.challengeId, 'string');
    assert.equal(typeof c.prefix, 'string');
    assert.ok(Date.parse(c.expiresAt) > Date.now());
    assert.equal((await t.user('alice', 'POST', '/api/v1/activities/99999999/challenge')).status, 404);
    const unauth = await fetch(`${t.url}/api/v1/activities/${activity.id}/challenge`, { method: 'POST' });
    assert.equal(unauth.status, 401);
  });

  test('missing → 403 CHALLENGE_REQUIRED', async () => {
    const r = await buy('bob', 'r1');
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CHALLENGE_REQUIRED');
  });

  test('wrong nonce → 403 CHALLENGE_FAILED, and the challenge is used up', async () => {
    const { challenge, answer } = await solved('carol');
    const r = await buy('carol', 'r1', { challengeId: challenge.challengeId, nonce: await wrongNonce(challenge) });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CHALLENGE_FAILED');
    const again = await buy('carol', 'r2', answer);
    assert.equal(again.body.error?.code, 'CHALLENGE_FAILED');
  });

  test('solved → 202; reused → CHALLENGE_FAILED; the same request replayed → the same 202', async () => {
    const { answer } = await solved('dave');
    const first = await buy('dave', 'r1', answer);
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const reused = await buy('dave', 'r2', answer);
    assert.equal(reused.status, 403);
    assert.equal(reused.body.error.code, 'CHALLENGE_FAILED');
    const replay = await buy('dave', 'r1', answer);
    assert.equal(replay.status, 202);
    assert.equal(replay.body.orderId, first.body.orderId);
    const stats = await t.stats(activity.id);
    assert.equal(stats.orders.QUEUED + stats.orders.PENDING_PAYMENT, 1);
  });

  test("another user's challenge → CHALLENGE_FAILED, and it is not burnt for its owner", async () => {
    const { answer } = await solved('erin');
    const stolen = await buy('mallory', 'r1', answer);
    assert.equal(stolen.status, 403);
    assert.equal(stolen.body.error.code, 'CHALLENGE_FAILED');
    assert.equal((await buy('erin', 'r1', answer)).status, 202);
  });

  test('expired → CHALLENGE_FAILED', async () => {
    const { answer } = await solved('frank');
    const { redis, keys } = t.app.infra;
    assert.equal(await redis.pexpire(keys.activity(activity.id).challenge(answer.challengeId), 1), 1);
    await new Promise((r) => setTimeout(r, 20));
    const r = await buy('frank', 'r1', answer);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'CHALLENGE_FAILED');
  });

  test("another activity's challenge → CHALLENGE_FAILED", async () => {
    const other = await createActivity(t, { stock: 10, antiBot: 'challenge', challengeDifficulty: 4 });
    const r = await issue('gina', other.id);
    const answer = await solveChallenge(r.body.challenge);
    const bought = await buy('gina', 'r1', answer);
    assert.equal(bought.body.error?.code, 'CHALLENGE_FAILED');
  });

  test('challenges open 30 s before the start, not earlier', async () => {
    const later = await createActivity(t, {
      stock: 10,
      antiBot: 'challenge',
      startAt: new Date(Date.now() + 3_600_000).toISOString(),
      endAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    const r = await issue('hank', later.id);
    assert.equal(r.status, 403);
    assert.equal(r.body.error.code, 'NOT_STARTED');
    const soon = await createActivity(t, {
      stock: 10,
      antiBot: 'challenge',
      startAt: new Date(Date.now() + 10_000).toISOString(),
    });
    assert.equal((await issue('hank', soon.id)).status, 201);
  });
});
