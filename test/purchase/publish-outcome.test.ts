/**
 * Which produce errors let the purchase path release a reservation: only those that
 * prove nothing was written. A timeout or a dropped connection may still become an order (a frozen
 * broker appends the buffered request on SIGCONT), so releasing would sell its units twice.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MultipleErrors, NetworkError, ProtocolError, TimeoutError, UserError } from '@platformatic/kafka';
import { surelyNotWritten } from '../../src/purchase/order-publisher.ts';

const refused = () => new NetworkError('Connection to 127.0.0.1:9 failed.', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' }) });
const dropped = () => new NetworkError('Connection closed', { cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }) });

test('surely not written: connection refused, a bad request, a broker refusal', () => {
  assert.equal(surelyNotWritten(refused()), true);
  assert.equal(surelyNotWritten(new MultipleErrors('retries exhausted', [refused(), refused()])), true);
  assert.equal(surelyNotWritten(new UserError('bad message')), true);
  assert.equal(surelyNotWritten(new ProtocolError('MESSAGE_TOO_LARGE')), true);
});

test('maybe written: timeouts, dropped connections, appended-but-not-replicated, or any mix', () => {
  assert.equal(surelyNotWritten(new TimeoutError('Request timed out')), false);
  assert.equal(surelyNotWritten(dropped()), false);
  assert.equal(surelyNotWritten(new ProtocolError('NOT_ENOUGH_REPLICAS_AFTER_APPEND')), false);
  assert.equal(surelyNotWritten(new ProtocolError('REQUEST_TIMED_OUT')), false);
  assert.equal(surelyNotWritten(new MultipleErrors('retries exhausted', [dropped(), refused()])), false);
  assert.equal(surelyNotWritten(new Error('something else')), false);
  assert.equal(surelyNotWritten('not an error'), false);
});
