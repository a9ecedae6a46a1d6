import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { parseAmount } from '../../src/platform/money/money.js';
import { createClearingUser, createMember, type TestMember } from '../harness/factories.js';
import { order } from '../harness/market-factories.js';
import { ROOT } from '../harness/processes.js';
import { endedDayWithTrade } from '../harness/settlement-helpers.js';
import { startTestApp, type TestApp } from '../harness/test-app.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test', 'artifacts');
const DAY = '2026-12-01';

describe('clearing console and public market board in a real browser', () => {
  let t: TestApp;
  let browser: Browser;
  let page: Page;
  let a: TestMember;
  let b: TestMember;
  let checker: TestMember;

  const signIn = async (key: string, query = '') => {
    await page.goto(`${t.baseUrl}/console/${query}`);
    await page.getByLabel('Clearing API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  beforeAll(async () => {
    if (!existsSync(join(ROOT, 'dist', 'web', 'index.html')))
      throw new Error('dist/web is missing: run `npm run build` (npm test does it for you)');
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run does)`);
    t = await startTestApp({ env: { LOG_LEVEL: 'error' } });
    ({ a, b } = await endedDayWithTrade(t, 'WEB-1'));
    await order(a, 'WEB-1', 'SELL', '4.20', 1); // rests on the book
    checker = await createClearingUser(t);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });
  afterEach(async () => page?.close());

  const newPage = async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    onTestFailed(async ({ task }) => {
      mkdirSync(ARTIFACTS, { recursive: true });
      await page
        .screenshot({ path: join(ARTIFACTS, `${task.name.replace(/[^a-z0-9]+/gi, '-')}.png`), fullPage: true })
        .catch(() => undefined);
    });
  };

  it('a wrong key shows the API error; the right one opens the overview with the trial balance at 0.00', async () => {
    await newPage();
    await signIn('tck_this_is_not_a_key_at_all_0123456789');
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('UNAUTHENTICATED');
    await signIn(a.key);
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('clearing staff');
    await signIn(t.clearingKey);
    const tb = page.getByTestId('trial-balance');
    await tb.waitFor();
    expect(await tb.textContent()).toBe('0.00');
    expect(await tb.getAttribute('class')).toContain('good');
    // The key lives in session storage only: never in the URL.
    expect(page.url()).not.toContain(t.clearingKey);
    expect(await page.evaluate(() => sessionStorage.getItem('tokenclear.key'))).toBe(t.clearingKey);
  });

  it('starts a daily run with a confirmation step and shows it complete', async () => {
    await newPage();
    await signIn(t.clearingKey);
    await page.getByRole('link', { name: 'Settlement runs' }).click();
    await page.locator('input[name=series]').fill('WEB-1');
    await page.locator('input[name=businessDate]').fill(DAY);
    await page.getByRole('button', { name: 'Start…' }).click();
    await page.getByRole('dialog', { name: 'confirm run' }).getByRole('button', { name: 'Confirm' }).click();
    await page.getByTestId('run-status-WEB-1').filter({ hasText: 'COMPLETED' }).first().waitFor({ timeout: 20_000 });
    expect(await page.locator('table').first().textContent()).toContain('4.10');
  });

  it('shows a break the test creates and resolves it with a comment', async () => {
    await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" + 7 WHERE code = ${`member:${a.id}:cash`}`;
    await newPage();
    await signIn(t.clearingKey);
    await page.getByRole('link', { name: 'Breaks' }).click();
    await page.getByRole('button', { name: 'Run reconciliation' }).click();
    await page.getByRole('button', { name: `open break member:${a.id}:cash` }).click();
    await page.getByLabel('break detail').getByText('difference 0.07').waitFor();
    await page.locator('input[name=comment]').fill('fixture: known difference');
    await page.getByRole('button', { name: 'Resolve' }).click();
    await expect.poll(async () => (await t.prisma.break.findFirst({ where: { key: `member:${a.id}:cash` } }))?.status).toBe('RESOLVED');
    await t.prisma.$executeRaw`UPDATE ledger_accounts SET "balanceFen" = "balanceFen" - 7 WHERE code = ${`member:${a.id}:cash`}`;
  });

  it("maker proposes, the page hides approve on one's own proposal, a second clearing user approves, the balance changes", async () => {
    const before = (await t.clearing.get<{ cash: string }>(`/v1/members/${b.id}/balances`)).body.cash;
    await newPage();
    await signIn(t.clearingKey);
    await page.getByRole('link', { name: 'Adjustments' }).click();
    await page.locator('input[name=debitAccount]').fill(`member:${a.id}:cash`);
    await page.locator('input[name=creditAccount]').fill(`member:${b.id}:cash`);
    await page.locator('input[name=amount]').fill('1.50');
    await page.locator('input[name=reason]').fill('console four-eyes test');
    await page.getByRole('button', { name: 'Propose' }).click();
    await page.getByText('your proposal').waitFor();
    expect(await page.getByRole('button', { name: 'approve console four-eyes test' }).count()).toBe(0);
    await page.getByRole('button', { name: 'Sign out' }).click();

    await signIn(checker.key);
    await page.getByRole('link', { name: 'Adjustments' }).click();
    await page.getByRole('button', { name: 'approve console four-eyes test' }).click();
    await page.getByText('nothing pending').waitFor();
    const after = (await t.clearing.get<{ cash: string }>(`/v1/members/${b.id}/balances`)).body.cash;
    expect(parseAmount(after, 'cash', { allowZero: true }) - parseAmount(before, 'cash', { allowZero: true })).toBe(150n);
  });

  it('the market board renders a traded series without a key, and its data names no member', async () => {
    await newPage();
    await page.goto(`${t.baseUrl}/market`);
    await page.getByTestId('series-WEB-1').waitFor();
    const row = await page.locator('tr', { has: page.getByTestId('series-WEB-1') }).textContent();
    expect(row).toContain('4.00'); // last trade
    expect(row).toContain('4.20'); // best ask
    const res = await fetch(`${t.baseUrl}/v1/public/market`);
    expect(res.headers.get('cache-control')).toContain('max-age');
    const text = await res.text();
    for (const id of [a.id, b.id, checker.id, t.clearingMemberId]) expect(text).not.toContain(id);
    expect(text).not.toMatch(/"(memberId|buyerId|sellerId|operatorId|balance|cash|margin|escrow|key)"/);
  });

  it('the market board charts each token index from the public index API', async () => {
    // WEB-1 (llm-70b-instruct) traded 2 × 10M tokens at 4.00 on 2026-12-01: TTI-70B fixes at 4.00.
    const fixed = await t.clearing.post<{ fixing: { price: string } }>('/v1/indices/TTI-70B/fixings/run', { businessDate: DAY });
    expect(fixed.status, fixed.text).toBe(201);
    expect(fixed.body.fixing.price).toBe('4.00');
    await newPage();
    await page.goto(`${t.baseUrl}/market`);
    await page.getByTestId('index-TTI-70B').waitFor();
    const row = await page.locator('tr', { has: page.getByTestId('index-TTI-70B') }).textContent();
    expect(row).toContain('2026-12-01');
    expect(row).toContain('4.00');
    expect(row).toContain('TRADES');
    await page.getByRole('img', { name: 'TTI-70B history' }).waitFor();
    expect(await page.getByRole('link', { name: 'methodology' }).getAttribute('href')).toBe('/v1/indices/methodology');
    for (const path of ['/v1/indices', '/v1/indices/TTI-70B/fixings']) {
      const text = await (await fetch(`${t.baseUrl}${path}`)).text();
      for (const id of [a.id, b.id, checker.id, t.clearingMemberId]) expect(text).not.toContain(id);
      expect(text).not.toMatch(/"(memberId|buyerId|sellerId|operatorId|proposedBy|decidedBy|balance|cash|margin|key)"/);
    }
  });

  it('the market board shows a trade the moment it happens, without a reload (live from /v1/stream)', async () => {
    await newPage();
    await page.goto(`${t.baseUrl}/market`);
    const row = page.locator('tr', { has: page.getByTestId('series-WEB-1') });
    await row.waitFor();
    const last = row.locator('td').nth(4);
    expect(await last.textContent()).toBe('4.00');
    const loads = { n: 0 };
    page.on('framenavigated', () => loads.n++);
    expect((await order(a, 'WEB-1', 'SELL', '4.20', 1)).status).toBe(201);
    const bought = await order(b, 'WEB-1', 'BUY', '4.20', 1);
    expect(bought.body.filledQuantity, bought.text).toBe(1);
    await expect.poll(() => last.textContent(), { timeout: 10_000 }).toBe('4.20');
    expect(loads.n).toBe(0);
  });

  it('every other console page renders its data from the API', async () => {
    await newPage();
    await signIn(t.clearingKey);
    for (const [link, text] of [
      ['Members', a.id],
      ['Capacity', 'Capacity by model class'],
      ['Delivery', 'Obligations'],
      ['Markets', 'WEB-1'],
    ] as const) {
      await page.getByRole('link', { name: link }).click();
      await page.getByText(text).first().waitFor();
    }
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it("the member page lists the member's bank accounts; clearing approves a pending one", async () => {
    const proposed = await a.client.post<{ id: string }>(`/v1/members/${a.id}/bank-accounts`, {
      bankCode: '103100000026',
      accountNumber: '6228480010001234567',
      holderName: 'Console Test Holder',
    });
    expect(proposed.status, proposed.text).toBe(201);
    const name = (await t.clearing.get<{ name: string }>(`/v1/members/${a.id}`)).body.name;
    await newPage();
    await signIn(t.clearingKey);
    await page.getByRole('link', { name: 'Members' }).click();
    await page.getByRole('link', { name, exact: true }).click();
    await page.getByRole('heading', { name: 'Bank accounts' }).waitFor();
    await page.getByText('6228480010001234567').waitFor();
    await page.getByRole('button', { name: 'approve 6228480010001234567' }).click();
    await expect
      .poll(async () => (await t.prisma.bankAccount.findUniqueOrThrow({ where: { id: proposed.body.id } })).status)
      .toBe('VERIFIED');
    await expect.poll(() => page.getByRole('button', { name: 'approve 6228480010001234567' }).count()).toBe(0);
    expect(await page.getByRole('alert').count()).toBe(0);
  });

  it('pages through a list longer than a page: the rows past the first page appear after "Load more"', async () => {
    for (let i = 0; i < 3; i++) await createMember(t, 'BUYER', `paging-member-${i}`);
    // Every member, page after page, as the API orders them.
    const pages: string[][] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await t.clearing.get(
        `/v1/members?limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(res.status).toBe(200);
      pages.push(res.body.items.map((m) => m.id));
      cursor = res.body.nextCursor;
    } while (cursor !== null);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    const all = pages.flat();

    await newPage();
    await signIn(t.clearingKey, '?pageSize=2');
    await page.getByRole('link', { name: 'Members' }).click();
    const section = page.locator('section', { has: page.getByRole('heading', { name: 'Members' }) });
    const rows = section.locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(2);
    const shown = async () => (await section.locator('tbody code').allTextContents()).join(' ');
    expect(await shown()).toContain(pages[0][0]);
    for (const id of pages.slice(1).flat()) expect(await shown()).not.toContain(id);

    const more = section.getByRole('button', { name: 'Load more members' });
    for (let loaded = 1; loaded < pages.length; loaded++) {
      await more.click();
      await expect.poll(() => rows.count()).toBe(pages.slice(0, loaded + 1).flat().length);
    }
    await expect.poll(() => more.count()).toBe(0);
    const ids = await section.locator('tbody code').allTextContents();
    expect(ids).toEqual(all);
    expect(await page.getByRole('alert').count()).toBe(0);
  });
});
