-- Promise 4: every order id a client was given (a 202) must end up as a row. When Redis forgot a
-- request's stored answer (restarted empty, a failover that lost writes, degraded admission on
-- another instance), a retry of the same (activity, user, requestId) can be given a second order
-- id. MySQL keeps the first as the order; the second is recorded FAILED (DUPLICATE_REQUEST) with
-- `duplicate_of` = its own id, so the unique key below still allows one real order per request
-- while every id handed out has a row a client can look up.
ALTER TABLE orders ADD COLUMN IF NOT EXISTS duplicate_of BIGINT UNSIGNED NOT NULL DEFAULT 0;
ALTER TABLE orders DROP INDEX IF EXISTS orders_request;
ALTER TABLE orders ADD UNIQUE KEY IF NOT EXISTS orders_request (activity_id, user_id, request_id, duplicate_of);
