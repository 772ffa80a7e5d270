/** Terminal tables for the `troupe` commands and the customer-reply demo's summary, drawn by cli-table3. */
import Table from 'cli-table3';

/**
 * A box-drawn table: the header, a rule, one line per row (`compact`: no rule between rows), columns as wide as
 * their widest cell (no wrapping or truncation: an address is copied from here). No colours, so the text is the
 * same in a terminal, a pipe or a log. `(none)` when there are no rows.
 */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '(none)\n';
  const drawn = new Table({ head: [...header], style: { head: [], border: [], compact: true } });
  drawn.push(...rows.map((row) => [...row]));
  return `${drawn.toString()}\n`;
}
