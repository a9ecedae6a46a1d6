import { createHash } from 'node:crypto';
import type pg from 'pg';
import { fastTypes } from './pg-timestamps.js';

/**
 * Tagged-template SQL on one pg connection, with Prisma's `$queryRaw` shape so repositories
 * written for Prisma (`RawSql`) run unchanged. Values are bound as parameters ($1, $2, …), never
 * spliced into the text. Results come back as pg parses them: int8 as string and JSON parsed,
 * so hot-path queries cast what they return (::int, ::text, json).
 */
export class SqlTx {
  /**
   * A connection in a transaction, or the pool itself for single statements. `begun`: the
   * transaction's BEGIN, sent ahead without waiting; no result is handed over unless it succeeded.
   */
  constructor(
    private readonly client: pg.PoolClient | pg.Pool,
    private readonly begun: Promise<void> = Promise.resolve(),
    /** Called before each statement is sent (a pipelined transaction coalesces its writes). */
    private readonly beforeSend: () => void = () => undefined,
  ) {}

  async $queryRaw<T = unknown>(query: TemplateStringsArray, ...values: unknown[]): Promise<T> {
    this.beforeSend();
    const res = await this.client.query({ ...statement(query), values: values.map(arrayLiteral), types: fastTypes });
    await this.begun;
    return res.rows as T;
  }

  async $executeRaw(query: TemplateStringsArray, ...values: unknown[]): Promise<number> {
    this.beforeSend();
    const res = await this.client.query({ ...statement(query), values: values.map(arrayLiteral), types: fastTypes });
    await this.begun;
    return res.rowCount ?? 0;
  }
}

/**
 * Statements a pipelined transaction issues in the same tick leave in one socket write: the
 * connection's socket is corked at the first and uncorked when the tick ends (pg writes each
 * statement on its own, and each write wakes the server's backend).
 */
export function coalescedWrites(client: pg.PoolClient): () => void {
  const stream = (client as unknown as { connection?: { stream?: { cork?: () => void; uncork?: () => void } } }).connection?.stream;
  let corked = false;
  return () => {
    if (corked || !stream?.cork || !stream.uncork) return;
    corked = true;
    stream.cork();
    process.nextTick(() => {
      corked = false;
      stream.uncork!();
    });
  };
}

/**
 * Waits for statements issued together on a pipelined transaction (see `sqlTransaction`) and
 * fails with the first one's error in the order they were issued: the later ones only fail
 * because the transaction was aborted.
 */
export async function inOrder<T extends readonly unknown[]>(statements: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const settled = await Promise.allSettled(statements);
  const failed = settled.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as unknown as T;
}

const NEEDS_ESCAPE = /["\\]/;

/**
 * A list of texts, numbers, booleans or bigints (or nulls) as the array literal pg would make of
 * it, without its two regular-expression replacements per element: ids and codes hold nothing to
 * escape, and the hot statements bind tens of thousands of them per second (pg's escaping was 2 %
 * of the API's time in bench:delivery). Any other value is left to pg.
 */
export function arrayLiteral(value: unknown): unknown {
  if (!Array.isArray(value) || value.length === 0) return value;
  let literal = '{';
  for (let i = 0; i < value.length; i++) {
    const e: unknown = value[i];
    if (i > 0) literal += ',';
    if (e === null || e === undefined) literal += 'NULL';
    else if (typeof e === 'string') literal += NEEDS_ESCAPE.test(e) ? `"${e.replace(/[\\"]/g, '\\$&')}"` : `"${e}"`;
    // What pg makes of them too (toString, quoted): nothing in them to escape.
    else if (typeof e === 'number' || typeof e === 'boolean' || typeof e === 'bigint') literal += `"${String(e)}"`;
    else return value;
  }
  return literal + '}';
}

/**
 * A list of plain values as one Postgres array literal, bound as a single text parameter and
 * cast in SQL (`$1::text[]`). A large batch's columns then cost one string each to send, through
 * Prisma's client as through `SqlTx`, instead of tens of thousands of elements that each pass
 * through the client's argument mapping and pg's escaping.
 */
export function pgArray(values: readonly (string | number | bigint | boolean | null)[]): string {
  return values.length === 0 ? '{}' : (arrayLiteral(values) as string);
}

const statements = new WeakMap<TemplateStringsArray, { name: string; text: string }>();

/**
 * `a ${x} b ${y} c` → `a $1 b $2 c`, once per call site (template objects are cached by the
 * engine), as a named prepared statement: each connection parses it once and Postgres may
 * keep its plan — planning these multi-CTE statements costs as much as running them.
 */
function statement(query: TemplateStringsArray): { name: string; text: string } {
  let s = statements.get(query);
  if (s === undefined) {
    const text = query.reduce((acc, part, i) => acc + '$' + i + part);
    s = { name: statementName(text), text };
    statements.set(query, s);
  }
  return s;
}

/** The name a statement is prepared under on every connection: one per text. */
export function statementName(text: string): string {
  return `tc_${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
}
