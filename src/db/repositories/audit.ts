/** The admin audit log in MySQL (migration 009): one row per admin action. */
import type { Db } from '../client.ts';

export interface AuditEntry {
  id: string;
  at: Date;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  detail: string | null;
}

export async function insertAudit(db: Db, entry: Omit<AuditEntry, 'id' | 'at'>): Promise<void> {
  await db.insertInto('admin_audit').values(entry).execute();
}

/** Newest first; `before`: an id, for the next page. */
export async function listAudit(db: Db, options: { limit: number; before?: string }): Promise<AuditEntry[]> {
  let query = db.selectFrom('admin_audit').selectAll().orderBy('id', 'desc').limit(options.limit);
  if (options.before !== undefined) query = query.where('id', '<', options.before);
  const rows = await query.execute();
  return rows.map((r) => ({ ...r, id: String(r.id) }));
}
