/**
 * Who did what to the sales, and when. The admin token is one shared secret, so the token alone
 * cannot name a person: the console sends the operator's name in `X-Seckill-Actor`, and the entry
 * also records a fingerprint of the token used (the first 8 hex digits of its SHA-256), so a rotated
 * or leaked token shows in the log. Entries are written after the answer, whatever it was (a refused
 * change is worth knowing about too), and never hold a secret.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/client.ts';
import { type AuditEntry, insertAudit, listAudit } from '../db/repositories/audit.ts';

export type { AuditEntry };

/** What a caller may give as its name: short and safe to show and log as is. */
export const ACTOR_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,39}$/;
/** The actor when no name was given. */
export const ANONYMOUS_ACTOR = 'admin';
const DETAIL_MAX = 2000;

/** `adminToken`: the token every admin call was checked against (only its fingerprint is kept). */
export function createAdminAudit(db: Db, adminToken: string) {
  const fingerprint = createHash('sha256').update(adminToken).digest('hex').slice(0, 8);
  return {
    /** `name@token:<fingerprint>`: the declared name, and which token was used. */
    actor: (name: string | undefined): string => `${name ?? ANONYMOUS_ACTOR}@token:${fingerprint}`,
    record(entry: { actor: string; action: string; target: string | undefined; status: number; detail: unknown }): Promise<void> {
      const detail = entry.detail === undefined ? null : JSON.stringify(entry.detail).slice(0, DETAIL_MAX);
      return insertAudit(db, { actor: entry.actor, action: entry.action, target: entry.target ?? null, status: entry.status, detail });
    },
    list: (options: { limit: number; before?: string }): Promise<AuditEntry[]> => listAudit(db, options),
  };
}

export type AdminAudit = ReturnType<typeof createAdminAudit>;
