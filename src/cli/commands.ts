import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import type { ApiPaths } from '../client/api.js';
import type { CliApi } from './api-client.js';
import { progressBar, table } from './table.js';
import type { IndexFixingView } from '../indices/index-fixing.view.js';
import type { SettlementRunView } from '../settlement/settlement-run.view.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTty: boolean;
}

export class UsageError extends Error {}

type Run = SettlementRunView;
/** The query parameters of a GET path, as the document declares them. */
type ApiQuery<P extends keyof ApiPaths> = ApiPaths[P] extends { get: { parameters: { query?: infer Q } } } ? Q : never;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The command's string flags (and --json), strictly: an unknown flag is a usage error. */
function opts(args: string[], names: string[]): { values: Partial<Record<string, string>> & { json?: boolean }; positionals: string[] } {
  const options = Object.fromEntries([...names.map((n) => [n, { type: 'string' as const }]), ['json', { type: 'boolean' as const }]]);
  try {
    const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: parsed.values as Partial<Record<string, string>> & { json?: boolean }, positionals: parsed.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function need(v: string | boolean | undefined, flag: string): string {
  if (typeof v !== 'string' || v === '') throw new UsageError(`${flag} is required`);
  return v;
}

async function output(io: Io, text: string, out: string | undefined): Promise<void> {
  if (out) {
    await writeFile(out, text);
    io.err(`written to ${out} (${Buffer.byteLength(text)} bytes)`);
  } else io.out(text.endsWith('\n') ? text.slice(0, -1) : text);
}

/** `settlement run --type DAILY [--series S] [--date D]`: starts the run(s) and follows them to the end. */
async function settlementRun(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['type', 'series', 'date']);
  const type = need(values.type, '--type');
  const body = { type: type as 'DAILY', series: values.series, businessDate: values.date };
  const started = await api.call<Run | { items: Run[] }>(
    'POST /v1/settlement/runs',
    api.client.POST('/v1/settlement/runs', { body, signal: api.signal() }),
  );
  let runs = 'items' in started ? started.items : [started];
  if (runs.length === 0) {
    io.err('no series to settle');
    return 0;
  }
  for (;;) {
    runs = await Promise.all(
      runs.map((r) =>
        api.call<Run>(
          `GET /v1/settlement/runs/${r.id}`,
          api.client.GET('/v1/settlement/runs/{id}', { params: { path: { id: r.id } }, signal: api.signal() }),
        ),
      ),
    );
    const processed = runs.reduce((s, r) => s + r.progress.processed, 0);
    const total = runs.reduce((s, r) => s + Math.max(r.progress.total, r.progress.processed), 0);
    const finished = runs.filter((r) => r.status === 'COMPLETED' || r.status === 'FAILED').length;
    if (!values.json) {
      const line = `${progressBar(finished, runs.length)} runs finished; ${processed} items processed${total ? ` of ${total}` : ''}`;
      if (io.isTty) io.err(`\r${line}`);
      else io.err(line);
    }
    if (finished === runs.length) break;
    await sleep(300);
  }
  if (io.isTty && !values.json) io.err('\n');
  if (values.json) io.out(JSON.stringify(runs, null, 2));
  else
    io.out(
      table(
        runs.map((r) => ({ ...r, series: r.series ?? `${r.seriesCount} series`, progress: `${r.progress.processed}/${r.progress.total}` })),
        ['series', 'type', 'businessDate', 'status', 'price', 'transferCount', 'totalMoved', 'checksum'],
      ),
    );
  const failed = runs.filter((r) => r.status === 'FAILED');
  for (const r of failed) io.err(`run ${r.id} (${r.series}) FAILED: ${r.error}`);
  return failed.length ? 1 : 0;
}

async function reconRun(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, []);
  const run = await api.call<{
    id: string;
    status: string;
    checks: { name: string; rowsExamined: number; ms: number; differences: number }[];
    breaksOpened: number;
    breaksCleared: number;
    openBreaks: number;
  }>('POST /v1/reconciliation/runs', api.client.POST('/v1/reconciliation/runs', { signal: api.signal() }));
  if (values.json) io.out(JSON.stringify(run, null, 2));
  else {
    io.out(table(run.checks, ['name', 'rowsExamined', 'ms', 'differences']));
    io.out(
      `\nrun ${run.id} ${run.status}: ${run.openBreaks} open difference(s), ${run.breaksOpened} new break(s), ${run.breaksCleared} cleared`,
    );
  }
  return run.status === 'COMPLETED' ? 0 : 1;
}

async function breaksList(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['status', 'type', 'member']);
  type Query = NonNullable<ApiQuery<'/v1/reconciliation/breaks'>>;
  const query: Query = {
    ...(values.status ? { status: values.status as Query['status'] } : {}),
    ...(values.type ? { type: values.type as Query['type'] } : {}),
    ...(values.member ? { memberId: values.member } : {}),
  };
  // Every break, not the first page: the list is what clearing staff work through.
  const items = await api.all<Record<string, unknown>>('GET /v1/reconciliation/breaks', (limit, cursor) =>
    api.client.GET('/v1/reconciliation/breaks', { params: { query: { ...query, limit, cursor } }, signal: api.signal() }),
  );
  if (values.json) io.out(JSON.stringify(items, null, 2));
  else io.out(items.length ? table(items, ['id', 'type', 'status', 'age', 'expected', 'actual', 'difference', 'key']) : 'no breaks');
  return 0;
}

async function statementsExport(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['member', 'date', 'format', 'out']);
  const format = values.format ?? 'csv';
  if (format !== 'csv' && format !== 'json') throw new UsageError('--format is csv or json');
  const id = need(values.member, '--member');
  const businessDate = need(values.date, '--date');
  // `format` is read by the controller from the query but not declared in the document.
  const params = { path: { id, businessDate }, query: { format } } as unknown as { path: { id: string; businessDate: string } };
  const text = await api.call<string>(
    `GET /v1/members/${id}/statements/${businessDate}?format=${format}`,
    api.client.GET('/v1/members/{id}/statements/{businessDate}', { params, parseAs: 'text', signal: api.signal() }),
  );
  await output(io, text, values.out);
  return 0;
}

async function paymentsExport(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['date', 'format', 'out']);
  const format = values.format ?? 'pain001';
  if (format !== 'pain001' && format !== 'csv' && format !== 'json') throw new UsageError('--format is pain001, csv or json');
  const businessDate = need(values.date, '--date');
  const label = `GET /v1/payment-instructions?businessDate=${businessDate}`;
  if (format === 'json') {
    // The JSON list is paged; the export is the whole date.
    const items = await api.all<Record<string, unknown>>(label, (limit, cursor) =>
      api.client.GET('/v1/payment-instructions', { params: { query: { businessDate, limit, cursor } }, signal: api.signal() }),
    );
    await output(io, JSON.stringify({ businessDate: values.date, items, nextCursor: null }), values.out);
    return 0;
  }
  const text = await api.call<string>(
    `${label}&format=${format}`,
    api.client.GET('/v1/payment-instructions', { params: { query: { businessDate, format } }, parseAs: 'text', signal: api.signal() }),
  );
  await output(io, text, values.out);
  return 0;
}

async function bankStatementImport(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values, positionals } = opts(args, []);
  const file = positionals[0];
  if (!file) throw new UsageError('give the statement file: bank-statement import <file.xml|file.csv>');
  const content = await readFile(file, 'utf8');
  const contentType = file.toLowerCase().endsWith('.csv') ? 'text/csv' : 'application/xml';
  // The file goes as the bank sent it: the document has no JSON body here, so the raw text is
  // passed through the serializer untouched.
  const res = await api.call<{
    statementId: string;
    entries: number;
    matched: number;
    breaks: number;
    replayed: boolean;
    items: Record<string, unknown>[];
  }>(
    'POST /v1/bank-statements',
    api.client.POST('/v1/bank-statements', {
      params: { header: { 'content-type': contentType } },
      body: content as never,
      bodySerializer: (raw: unknown) => raw as string,
      signal: api.signal(),
    }),
  );
  if (values.json) io.out(JSON.stringify(res, null, 2));
  else {
    io.out(table(res.items, ['bankRef', 'direction', 'amount', 'endToEndId', 'status', 'detail']));
    io.out(
      `\nstatement ${res.statementId}: ${res.entries} entries, ${res.matched} matched, ${res.breaks} to investigate${res.replayed ? ' (already imported: nothing changed)' : ''}`,
    );
  }
  return 0;
}

/** Every row of a paged list by raw path (public routes need no key), following nextCursor. */
async function everyPage<T>(api: CliApi, path: string): Promise<T[]> {
  const rows: T[] = [];
  let cursor: string | undefined;
  for (;;) {
    const sep = path.includes('?') ? '&' : '?';
    const page = await api.json<{ items: T[]; nextCursor: string | null }>(
      'GET',
      `${path}${sep}limit=500${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`,
    );
    rows.push(...page.items);
    if (!page.nextCursor) return rows;
    cursor = page.nextCursor;
  }
}

/** `indices fixings <code> [--from D --to D] [--json]`: every published fixing (public: no key needed), all pages. */
async function indexFixings(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values, positionals } = opts(args, ['from', 'to']);
  const code = positionals[0];
  if (!code) throw new UsageError('give the index: indices fixings <code>, e.g. TTI-70B');
  const q = new URLSearchParams();
  if (values.from) q.set('from', values.from);
  if (values.to) q.set('to', values.to);
  const items = await everyPage<IndexFixingView>(api, `/v1/indices/${encodeURIComponent(code)}/fixings?${q}`);
  if (values.json) io.out(JSON.stringify(items, null, 2));
  else
    io.out(
      items.length
        ? table(
            items.map((f) => ({
              ...f,
              effective: f.effective ? 'yes' : '',
              correctsId: f.correctsId ?? '',
              hash: f.hash?.slice(0, 16) ?? '',
            })),
            ['businessDate', 'price', 'method', 'volumeTokens', 'effective', 'id', 'correctsId', 'hash'],
          )
        : `no fixings of ${code}`,
    );
  return 0;
}

/** Commands that read public routes: they run without a key. */
export const PUBLIC_COMMANDS: ReadonlySet<string> = new Set(['indices fixings']);

async function paymentStatusImport(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values, positionals } = opts(args, []);
  const file = positionals[0];
  if (!file) throw new UsageError('give the status report: payment-status import <file.xml>');
  const content = await readFile(file, 'utf8');
  const res = JSON.parse(
    (await api.request('POST', '/v1/payment-status-reports', { raw: content, contentType: 'application/xml' })).text,
  ) as {
    messageId: string;
    transactions: number;
    replayed: boolean;
    items: Record<string, unknown>[];
  };
  if (values.json) io.out(JSON.stringify(res, null, 2));
  else {
    io.out(table(res.items, ['endToEndId', 'status', 'reasonCode', 'amount', 'outcome', 'detail']));
    io.out(
      `\nstatus report ${res.messageId}: ${res.transactions} transaction(s)${res.replayed ? ' (already imported: nothing changed)' : ''}`,
    );
  }
  return 0;
}

interface DefaultReport {
  id: string;
  memberId: string;
  status: string;
  reason: string;
  auctionEndsAt: string | null;
  lossFen: string | null;
  coveredFen: string | null;
  uncoveredFen: string | null;
  lots: Record<string, unknown>[];
  bids: Record<string, unknown>[];
  awards: Record<string, unknown>[];
  waterfall: Record<string, unknown>[];
}

const DEFAULT_COLUMNS = ['id', 'memberId', 'status', 'origin', 'createdAt', 'auctionEndsAt', 'lossFen', 'uncoveredFen'];

/** `defaults list [--status S]`: every default, newest first. */
async function defaultsList(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['status']);
  const items = await everyPage<Record<string, unknown>>(
    api,
    `/v1/defaults${values.status ? `?status=${encodeURIComponent(values.status)}` : ''}`,
  );
  if (values.json) io.out(JSON.stringify(items, null, 2));
  else io.out(items.length ? table(items, DEFAULT_COLUMNS) : 'no defaults');
  return 0;
}

/** `defaults show <id>`: lots, bids, awards and every waterfall step in fen. */
async function defaultsShow(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values, positionals } = opts(args, []);
  const id = positionals[0];
  if (!id) throw new UsageError('give the default id: defaults show <id>');
  const d = await api.json<DefaultReport>('GET', `/v1/defaults/${encodeURIComponent(id)}`);
  if (values.json) {
    io.out(JSON.stringify(d, null, 2));
    return 0;
  }
  io.out(`default ${d.id} of member ${d.memberId}: ${d.status} (${d.reason})`);
  if (d.auctionEndsAt) io.out(`auction ends ${d.auctionEndsAt}`);
  if (d.lots.length)
    io.out(`\nlots\n${table(d.lots, ['series', 'side', 'quantity', 'referencePrice', 'soldQuantity', 'tornUpQuantity', 'lossFen'])}`);
  if (d.bids.length) io.out(`\nbids\n${table(d.bids, ['series', 'bidderId', 'price', 'quantity', 'awardedQuantity', 'createdAt'])}`);
  if (d.awards.length) io.out(`\nclose-out\n${table(d.awards, ['kind', 'series', 'memberId', 'quantity', 'price', 'tradeId'])}`);
  if (d.waterfall.length) io.out(`\nwaterfall\n${table(d.waterfall, ['seq', 'layer', 'memberId', 'amountFen'])}`);
  if (d.lossFen !== null) io.out(`\nloss ${d.lossFen} fen: covered ${d.coveredFen}, uncovered ${d.uncoveredFen}`);
  return 0;
}

/** `defaults propose --member M --reason R`: the maker's half of a default declaration. */
async function defaultsPropose(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values } = opts(args, ['member', 'reason']);
  const d = await api.json<Record<string, unknown>>('POST', '/v1/defaults', {
    memberId: need(values.member, '--member'),
    reason: need(values.reason, '--reason'),
  });
  io.out(
    values.json
      ? JSON.stringify(d, null, 2)
      : `default ${String(d.id)} PROPOSED: another person approves it with 'defaults approve ${String(d.id)}'`,
  );
  return 0;
}

/** `defaults approve <id>`: a second person declares the default (the member is suspended, the auction opens). */
async function defaultsApprove(api: CliApi, io: Io, args: string[]): Promise<number> {
  const { values, positionals } = opts(args, []);
  const id = positionals[0];
  if (!id) throw new UsageError('give the default id: defaults approve <id>');
  const d = await api.json<Record<string, unknown>>('POST', `/v1/defaults/${encodeURIComponent(id)}/approve`, {});
  io.out(values.json ? JSON.stringify(d, null, 2) : `default ${String(d.id)} ${String(d.status)}: auction ends ${String(d.auctionEndsAt)}`);
  return 0;
}

export const COMMANDS: Record<string, (api: CliApi, io: Io, args: string[]) => Promise<number>> = {
  'settlement run': settlementRun,
  'recon run': reconRun,
  'breaks list': breaksList,
  'statements export': statementsExport,
  'payments export': paymentsExport,
  'bank-statement import': bankStatementImport,
  'indices fixings': indexFixings,
  'payment-status import': paymentStatusImport,
  'defaults list': defaultsList,
  'defaults show': defaultsShow,
  'defaults propose': defaultsPropose,
  'defaults approve': defaultsApprove,
};
