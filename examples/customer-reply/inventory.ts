/**
 * The demo's inventory: a real embedded database (SQLite through better-sqlite3), not a JavaScript object. Offers
 * are reserved under the step's idempotency key, so a retried or recovered step reserves once, and the saga's
 * compensation gives the unit back once; replies go to an outbox table the same way.
 */
import Database from 'better-sqlite3';
import { NonRetryableError } from '../../src/index.js';

export interface Offer {
  readonly sku: string;
  readonly name: string;
}

export interface Inventory {
  /** Units left of `sku`. */
  stock(sku: string): number;
  /** A product's name and units left; undefined for an unknown sku. */
  product(sku: string): (Offer & { readonly stock: number }) | undefined;
  /** Reserves one unit for `ticket` under `key` (idempotent); NonRetryableError `OutOfStock` when none is left. */
  reserve(key: string, sku: string, ticket: string): Offer & { readonly reservation: string };
  /** Gives a reservation's unit back (idempotent); false when there was none. */
  release(key: string): boolean;
  /** Records a sent reply under `key` (idempotent); returns its message id. */
  send(key: string, ticket: string, reply: string): string;
  /** Replies sent so far, by ticket. */
  sent(): Array<{ ticket: string; reply: string }>;
  reservations(): Array<{ ticket: string; sku: string }>;
  close(): void;
}

export const CATALOG: ReadonlyArray<Offer & { readonly stock: number }> = [
  { sku: 'voucher-20', name: 'a 20% voucher on the next order', stock: 5 },
  { sku: 'free-shipping', name: 'free shipping on the next order', stock: 100 },
];

/** An inventory database at `file` (default: in memory), with the demo's catalog. */
export function openInventory(file = ':memory:'): Inventory {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`
    CREATE TABLE IF NOT EXISTS products (sku TEXT PRIMARY KEY, name TEXT NOT NULL, stock INTEGER NOT NULL CHECK (stock >= 0));
    CREATE TABLE IF NOT EXISTS reservations (key TEXT PRIMARY KEY, sku TEXT NOT NULL REFERENCES products(sku), ticket TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS outbox (key TEXT PRIMARY KEY, ticket TEXT NOT NULL, reply TEXT NOT NULL, message_id TEXT NOT NULL);
  `);
  const seed = db.prepare('INSERT OR IGNORE INTO products (sku, name, stock) VALUES (?, ?, ?)');
  for (const p of CATALOG) seed.run(p.sku, p.name, p.stock);

  const product = db.prepare<[string], { sku: string; name: string; stock: number }>('SELECT sku, name, stock FROM products WHERE sku = ?');
  const reservation = db.prepare<[string], { sku: string }>('SELECT sku FROM reservations WHERE key = ?');
  const take = db.prepare('UPDATE products SET stock = stock - 1 WHERE sku = ? AND stock > 0');
  const giveBack = db.prepare('UPDATE products SET stock = stock + 1 WHERE sku = ?');
  const insertReservation = db.prepare('INSERT INTO reservations (key, sku, ticket) VALUES (?, ?, ?)');
  const deleteReservation = db.prepare('DELETE FROM reservations WHERE key = ?');
  const insertOutbox = db.prepare('INSERT OR IGNORE INTO outbox (key, ticket, reply, message_id) VALUES (?, ?, ?, ?)');
  const outboxId = db.prepare<[string], { message_id: string }>('SELECT message_id FROM outbox WHERE key = ?');

  const reserve = db.transaction((key: string, sku: string, ticket: string) => {
    const p = product.get(sku);
    if (p === undefined) throw new NonRetryableError(`no product ${sku}`, { type: 'UnknownProduct' });
    if (reservation.get(key) === undefined) {
      if (take.run(sku).changes === 0) throw new NonRetryableError(`${sku} is out of stock`, { type: 'OutOfStock' });
      insertReservation.run(key, sku, ticket);
    }
    return { sku: p.sku, name: p.name, reservation: key };
  });
  const release = db.transaction((key: string) => {
    const r = reservation.get(key);
    if (r === undefined) return false;
    deleteReservation.run(key);
    giveBack.run(r.sku);
    return true;
  });

  return {
    stock: (sku) => product.get(sku)?.stock ?? 0,
    product: (sku) => product.get(sku),
    reserve: (key, sku, ticket) => reserve(key, sku, ticket),
    release: (key) => release(key),
    send: (key, ticket, reply) => {
      insertOutbox.run(key, ticket, reply, `msg-${ticket}`);
      return outboxId.get(key)!.message_id;
    },
    sent: () => db.prepare<[], { ticket: string; reply: string }>('SELECT ticket, reply FROM outbox ORDER BY ticket').all(),
    reservations: () => db.prepare<[], { ticket: string; sku: string }>('SELECT ticket, sku FROM reservations ORDER BY ticket').all(),
    close: () => db.close(),
  };
}
