// npm run demo — the whole market on one machine, in under three minutes: a clearing house,
// operators with simulated nodes, buyers and a trader; a CASH and a PHYSICAL series; trading,
// the daily settlement at a cut-off set a minute ahead, expiry (index fixing for the cash one,
// delivery allocation for the physical one), inference jobs delivered by real agent processes,
// a delivery window closed with one operator gone dark, and reconciliation. Every figure in the
// report is read back from the API; the script computes none. Exit code 1 if any check fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { SettlementRunView } from '../../src/settlement/settlement-run.view.js';
import { Api, sleep, step, until } from './client.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const children: ChildProcess[] = [];
let dataDir: string | undefined;

function freePort(): Promise<number> {
  return new Promise((ok) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => ok(port));
    });
  });
}

function spawnChild(args: string[], env: NodeJS.ProcessEnv, name: string): ChildProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (d: Buffer) => {
    const line = d.toString().trim();
    if (line && process.env.DEMO_VERBOSE) process.stderr.write(`[${name}] ${line}\n`);
  });
  children.push(child);
  return child;
}

/** HH:MM in Asia/Shanghai of the first whole minute at least `leadMs` from now. */
function cutoffAfter(leadMs: number): { hhmm: string; at: Date } {
  const at = new Date(Math.ceil((Date.now() + leadMs) / 60_000) * 60_000);
  const hhmm = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Shanghai', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(
    at,
  );
  return { hhmm, at };
}

interface Member {
  id: string;
  name: string;
  key: string;
  api: Api;
  nodes: { id: string; nodeToken: string }[];
  agents: ChildProcess[];
}
type Run = SettlementRunView;
interface Obligation {
  id: string;
  sellerId: string;
  buyerId: string;
  contracts: number;
  tokens: number;
  deliveredTokens: number;
  shortfallTokens: number;
  unusedTokens: number;
  price: string;
  notional: string;
  released: string;
  refunded: string;
  penalty: string;
  status: string;
}

const failures: string[] = [];
function check(ok: boolean, what: string): void {
  if (!ok) failures.push(what);
  process.stdout.write(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}\n`);
}

async function main(): Promise<void> {
  const started = Date.now();
  const key = `tck_demo_${randomBytes(20).toString('hex')}`;
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const embedded = !process.env.DATABASE_URL;
  // The daily cut-off a minute or so ahead, so a whole business day fits in the demo.
  const cutoff = cutoffAfter(35_000);
  const env: NodeJS.ProcessEnv = {
    PORT: String(port),
    HOST: '127.0.0.1',
    BOOTSTRAP_CLEARING_KEY: key,
    LOG_LEVEL: 'warn',
    EOD_CUTOFF: cutoff.hhmm,
    HEARTBEAT_INTERVAL_MS: '1000',
    DELIVERY_LEASE_MS: '5000',
    DELIVERY_STALE_MS: '4000',
    QUEUE_PREFIX: `{demo${randomBytes(3).toString('hex')}}`,
  };
  if (embedded) {
    dataDir = mkdtempSync(join(tmpdir(), 'tokenclear-demo-'));
    Object.assign(env, { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), EMBEDDED_REDIS_PORT: String(await freePort()) });
  }
  step(
    `starting TokenClear (${embedded ? 'embedded PostgreSQL and Redis' : 'configured services'}); business day cut-off today at ${cutoff.hhmm} Asia/Shanghai`,
  );
  const server = spawnChild(['dist/main.js'], env, 'server');
  await until('the API to be ready', async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.ok, 90_000);
  const clearing = new Api(base, key);
  const tag = randomBytes(2).toString('hex').toUpperCase();

  step('registering 3 operators (2 simulated nodes each), 3 buyers and a trader');
  const member = async (name: string, kind: string, deposit: string): Promise<Member> => {
    const m = await clearing.post<{ id: string }>('/v1/members', { name: `${name}-${tag}`, kind });
    const k = await clearing.post<{ key: string }>(`/v1/members/${m.id}/api-keys`, { role: kind.toLowerCase() });
    await clearing.post(`/v1/members/${m.id}/deposits`, { amount: deposit, currency: 'CNY', reference: `DEMO-${tag}-${name}` });
    return { id: m.id, name, key: k.key, api: clearing.as(k.key), nodes: [], agents: [] };
  };
  const operators = [
    await member('op-alpha', 'OPERATOR', '5000.00'),
    await member('op-beta', 'OPERATOR', '5000.00'),
    await member('op-gamma', 'OPERATOR', '5000.00'),
  ];
  const buyers = [
    await member('buyer-one', 'BUYER', '5000.00'),
    await member('buyer-two', 'BUYER', '5000.00'),
    await member('buyer-three', 'BUYER', '5000.00'),
  ];
  const trader = await member('trader', 'TRADER', '5000.00');
  const everyone = [...operators, ...buyers, trader];
  const nameOf = new Map(everyone.map((m) => [m.id, m.name]));
  for (const op of operators) {
    const dc = await op.api.post<{ id: string }>('/v1/datacenters', { name: `${op.name}-dc`, region: 'cn-east-1' });
    for (let i = 0; i < 2; i++) {
      const node = await op.api.post<{ id: string; nodeToken: string }>('/v1/nodes', {
        dataCenterId: dc.id,
        gpuModel: 'H800',
        gpuCount: 8,
        models: [{ modelClass: 'llm-70b-instruct', tokensPerSecond: 50_000 }],
      });
      op.nodes.push(node);
      op.agents.push(
        spawnChild(
          [
            'dist/agent/main.js',
            '--api',
            base,
            '--node',
            node.id,
            '--simulate',
            '--rate',
            '0',
            '--heartbeat-ms',
            '500',
            '--lease-wait',
            '2',
          ],
          { TOKENCLEAR_NODE_TOKEN: node.nodeToken },
          `agent ${op.name}`,
        ),
      );
    }
  }
  await until(
    'every node ONLINE',
    async () => (await clearing.get<{ items: { status: string }[] }>('/v1/nodes')).items.filter((n) => n.status === 'ONLINE').length >= 6,
    30_000,
  );

  const lastTradingAt = new Date(cutoff.at.getTime() + 10_000);
  const deliveryEnd = new Date(lastTradingAt.getTime() + 30_000);
  step(`listing a CASH and a PHYSICAL series: last trading ${lastTradingAt.toISOString()}, delivery until ${deliveryEnd.toISOString()}`);
  const product = (code: string, settlementType: string, penaltyBp: number) =>
    clearing.post('/v1/products', {
      code,
      modelClass: 'llm-70b-instruct',
      contractSizeTokens: 1_000_000,
      tickFen: 1,
      settlementType,
      initialMarginBp: 1000,
      maintenanceMarginBp: 750,
      feePerContractFen: 5,
      penaltyBp,
      maxTtftMs: 2000,
      // A job is refused (DELIVERY_WINDOW_TOO_SHORT) unless maxTokens at this rate fits what is
      // left of the 30 s window: the buyers' largest job below (5,000 tokens) needs 10 s.
      minTokensPerSecond: 500,
      regions: ['cn-east-1'],
      inputTokenWeightBp: 2500,
    });
  await product(`DC${tag}`, 'CASH', 0);
  await product(`DP${tag}`, 'PHYSICAL', 2000);
  const [cash, phys] = [`DC${tag}-1`, `DP${tag}-1`];
  for (const [p, code] of [
    [`DC${tag}`, cash],
    [`DP${tag}`, phys],
  ]) {
    await clearing.post('/v1/series', {
      productCode: p,
      code,
      lastTradingAt: lastTradingAt.toISOString(),
      deliveryStart: lastTradingAt.toISOString(),
      deliveryEnd: deliveryEnd.toISOString(),
      referencePrice: '4.00',
    });
  }

  step('trading: operators sell capacity-backed tokens, buyers lock in prices, the trader speculates on the cash series');
  const trade = async (seller: Member, buyer: Member, series: string, price: string, quantity: number) => {
    await seller.api.post('/v1/orders', { series, side: 'SELL', price, quantity, timeInForce: 'GTC' });
    await buyer.api.post('/v1/orders', { series, side: 'BUY', price, quantity, timeInForce: 'GTC' });
  };
  await trade(operators[0], buyers[0], phys, '4.00', 2);
  await trade(operators[1], buyers[1], phys, '4.02', 2);
  await trade(operators[2], buyers[2], phys, '4.05', 1);
  await trade(operators[2], buyers[0], phys, '4.05', 1);
  await trade(operators[0], trader, cash, '4.00', 3);
  await trade(buyers[1], trader, cash, '4.01', 2);
  await buyers[2].api.post('/v1/orders', { series: phys, side: 'BUY', price: '3.95', quantity: 1, timeInForce: 'GTC' }); // rests in the book

  step(`waiting for the end of the business day (${cutoff.hhmm}): the EOD job settles every trading series`);
  await until('the cut-off', async () => Date.now() >= cutoff.at.getTime() + 1_000, 120_000);
  const today = (await clearing.get<{ items: { businessDate: string }[] }>(`/v1/trades?series=${phys}&limit=1`)).items[0].businessDate;
  const daily = await until(
    'the daily runs',
    async () => {
      const started = await clearing.post<{ items: Run[] }>('/v1/settlement/runs', { type: 'DAILY', businessDate: today });
      // One run settles every trading series at the end of the day (or one per series, if started so).
      const runs = await Promise.all(
        started.items
          .filter((r) => r.series === null || r.series === cash || r.series === phys)
          .map((r) => clearing.get<Run>(`/v1/settlement/runs/${r.id}`)),
      );
      return runs.length > 0 && runs.every((r) => r.status === 'COMPLETED') && runs;
    },
    60_000,
  );

  step('last trading: the physical series is allocated into delivery obligations; the cash series settles at the index fixing');
  await until('last trading', async () => Date.now() >= lastTradingAt.getTime() + 500, 60_000);
  await clearing.post(`/v1/series/${cash}/index-fixings`, {
    price: '4.08',
    source: 'TokenClear demo index, 70B class',
    asOf: lastTradingAt.toISOString(),
  });
  const cashExpiry = await clearing.post<Run>('/v1/settlement/runs', { type: 'EXPIRY', series: cash });
  const physExpiry = await clearing.post<Run>('/v1/settlement/runs', { type: 'EXPIRY', series: phys });
  const expiries = await until(
    'both expiry runs',
    async () => {
      const runs = await Promise.all([cashExpiry, physExpiry].map((r) => clearing.get<Run>(`/v1/settlement/runs/${r.id}`)));
      return runs.every((r) => r.status === 'COMPLETED') && runs;
    },
    60_000,
  );

  step(`${operators[2].name} goes dark (its agents are killed); the buyers call off tokens on every obligation`);
  for (const a of operators[2].agents) a.kill('SIGKILL');
  const obligations = (await clearing.get<{ items: Obligation[] }>(`/v1/obligations?series=${phys}&limit=100`)).items;
  const jobs: { id: string; dark: boolean }[] = [];
  for (const o of obligations) {
    const buyer = buyers.find((b) => b.id === o.buyerId)!;
    const dark = o.sellerId === operators[2].id;
    for (let i = 0; i < 4; i++) {
      const job = await buyer.api.post<{ id: string }>('/v1/delivery/jobs', {
        obligationId: o.id,
        modelClass: 'llm-70b-instruct',
        messages: [{ role: 'user', content: `Summarise delivery ${i} of obligation ${o.id.slice(0, 8)}` }],
        maxTokens: dark ? 5_000 : 2_000,
      });
      jobs.push({ id: job.id, dark });
    }
  }
  await until(
    'the live operators to deliver',
    async () => {
      const states = await Promise.all(
        jobs.filter((j) => !j.dark).map((j) => clearing.get<{ status: string }>(`/v1/delivery/jobs/${j.id}`)),
      );
      step(`delivered ${states.filter((s) => s.status === 'COMPLETED').length}/${states.length} jobs of the live operators`);
      return states.every((s) => s.status === 'COMPLETED');
    },
    60_000,
  );

  step(`waiting for the end of the delivery window (${deliveryEnd.toISOString()}); then the window closes`);
  await until('the end of the delivery window', async () => Date.now() >= deliveryEnd.getTime() + 500, 90_000);
  const close = await until(
    'the DELIVERY_CLOSE run',
    async () => {
      const run = await clearing.get<Run>(
        `/v1/settlement/runs/${(await clearing.post<Run>('/v1/settlement/runs', { type: 'DELIVERY_CLOSE', series: phys })).id}`,
      );
      return run.status === 'COMPLETED' && run;
    },
    60_000,
  );

  step('reconciling');
  const recon = await clearing.post<{
    openBreaks: number;
    checks: { name: string; rowsExamined: number; ms: number; differences: number }[];
  }>('/v1/reconciliation/runs');

  // ---- report: every figure below comes from the API ----
  const out = (s = '') => process.stdout.write(`${s}\n`);
  out('\n================ TokenClear demo report ================');
  out('\nTrades');
  for (const t of (
    await clearing.get<{ items: { series: string; price: string; quantity: number; buyerId: string; sellerId: string }[] }>(
      '/v1/trades?limit=100',
    )
  ).items.reverse()) {
    out(
      `  ${t.series.padEnd(10)} ${String(t.quantity).padStart(2)} @ ${t.price.padStart(6)}  ${nameOf.get(t.sellerId)} → ${nameOf.get(t.buyerId)}`,
    );
  }
  out('\nSettlement prices');
  for (const r of [...daily, ...expiries])
    out(
      `  ${(r.series ?? `${r.seriesCount} series`).padEnd(10)} ${r.type.padEnd(7)} ${r.businessDate}  ${r.price ?? '(a price per series)'}`,
    );
  out('\nVariation margin (per member, per run)');
  for (const m of everyone) {
    const vm = (
      await clearing.get<{ items: { amount: string; creditAccount: string; businessDate: string }[] }>(
        `/v1/members/${m.id}/transfers?kind=VARIATION_MARGIN&limit=50`,
      )
    ).items;
    for (const t of vm) out(`  ${m.name.padEnd(12)} ${t.businessDate}  ${t.creditAccount.endsWith(':cash') ? '+' : '-'}${t.amount}`);
  }
  out('\nDelivery obligations (tokens; CNY)');
  const closed = (await clearing.get<{ items: Obligation[] }>(`/v1/obligations?series=${phys}&limit=100`)).items;
  for (const o of closed) {
    out(
      `  ${nameOf.get(o.sellerId)!.padEnd(9)} → ${nameOf.get(o.buyerId)!.padEnd(11)} ${o.contracts} × 1M @ ${o.price}: delivered ${o.deliveredTokens}, shortfall ${o.shortfallTokens}, unused ${o.unusedTokens}; paid to seller ${o.released}, refunded ${o.refunded}, penalty ${o.penalty}, ${o.status}`,
    );
  }
  out('\nBalances (cash / margin / escrow)');
  for (const m of everyone) {
    const b = await clearing.get<{ cash: string; margin: string; escrow: string }>(`/v1/members/${m.id}/balances`);
    out(`  ${m.name.padEnd(12)} ${b.cash.padStart(10)} ${b.margin.padStart(8)} ${b.escrow.padStart(8)}`);
  }
  const trial = await clearing.get<{ total: string }>('/v1/ledger/trial-balance');
  out(`\nLedger trial balance total: ${trial.total}`);
  out(`Reconciliation: ${recon.checks.map((c) => `${c.name} ${c.differences}`).join(', ')}; open breaks ${recon.openBreaks}`);
  const series = await Promise.all([cash, phys].map((c) => clearing.get<{ status: string }>(`/v1/series/${c}`)));

  out('\nChecks');
  check(trial.total === '0.00', 'ledger trial balance is 0.00');
  check(recon.openBreaks === 0, 'reconciliation finds no break');
  check(
    [...daily, ...expiries, close].every((r) => r.status === 'COMPLETED'),
    'every settlement run COMPLETED',
  );
  check(
    series.every((s) => s.status === 'SETTLED'),
    'both series SETTLED',
  );
  const dark = closed.filter((o) => o.sellerId === operators[2].id);
  const live = closed.filter((o) => o.sellerId !== operators[2].id);
  check(
    dark.length > 0 && dark.every((o) => o.shortfallTokens > 0 && o.penalty !== '0.00' && o.refunded !== '0.00'),
    `${operators[2].name}'s obligations show a shortfall, refund and penalty`,
  );
  check(
    live.length > 0 && live.every((o) => o.deliveredTokens > 0 && o.shortfallTokens === 0 && o.penalty === '0.00'),
    'the live operators delivered, with no shortfall',
  );
  check(
    closed.every((o) => o.status === 'CLOSED'),
    'every obligation CLOSED',
  );
  out(`\nfinished in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  if (process.env.DEMO_SCREENSHOTS) await screenshots(base, key, process.env.DEMO_SCREENSHOTS);
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
}

/** DEMO_SCREENSHOTS=<dir>: the console overview and the market board as the demo left them (for the README). */
async function screenshots(base: string, key: string, dir: string): Promise<void> {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(`${base}/console/`);
    await page.getByLabel('Clearing API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('trial-balance').waitFor();
    await page.screenshot({ path: join(dir, 'console-overview.png'), fullPage: true });
    await page.goto(`${base}/console/#/delivery`);
    await page.getByText('Obligations').first().waitFor();
    await sleep(500);
    await page.screenshot({ path: join(dir, 'console-delivery.png'), fullPage: true });
    await page.goto(`${base}/market`);
    await page.locator('table').first().waitFor();
    await sleep(500);
    await page.screenshot({ path: join(dir, 'market-board.png'), fullPage: true });
    step(`screenshots written to ${dir}`);
  } finally {
    await browser.close();
  }
}

async function cleanup(): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await sleep(200);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
}

main()
  .then(async () => {
    await cleanup();
    if (failures.length) {
      process.stderr.write(`demo: ${failures.length} check(s) failed\n`);
      process.exit(1);
    }
    process.exit(0);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`demo failed: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup();
    process.exit(1);
  });
