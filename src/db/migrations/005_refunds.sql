-- Refunds owed: a payment that succeeded after its order was cancelled is marked
-- REFUND_REQUIRED; an operator gives the money back and marks it REFUNDED (admin endpoint). The
-- status column stays VARCHAR, but now only the statuses the code knows can be written, so a typo
-- in a status can never hide a refund from the list an operator works through.
ALTER TABLE payments ADD CONSTRAINT IF NOT EXISTS payments_status_known
  CHECK (status IN ('PROCESSING', 'SUCCEEDED', 'FAILED', 'REFUND_REQUIRED', 'REFUNDED'));
-- The refunds list pages by payment id within one status; the gauge counts and sums one status.
CREATE INDEX IF NOT EXISTS payments_status_id ON payments (status, id, amount_cents);
