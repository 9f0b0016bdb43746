/** Payments as the API shows them. */

/** REFUND_REQUIRED: paid after its order was cancelled; REFUNDED: an operator gave the money back. */
export const PAYMENT_STATUSES = ['PROCESSING', 'SUCCEEDED', 'FAILED', 'REFUND_REQUIRED', 'REFUNDED'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

export type RefundStatus = Extract<PaymentStatus, 'REFUND_REQUIRED' | 'REFUNDED'>;

export interface Payment {
  paymentId: string;
  orderId: string;
  amountCents: number;
  status: PaymentStatus;
}

/** A payment that succeeded after its order was cancelled: the money goes back to the buyer. */
export interface Refund {
  paymentId: string;
  orderId: string;
  activityId: string;
  userId: string;
  amountCents: number;
  status: RefundStatus;
  createdAt: string;
  updatedAt: string;
}
