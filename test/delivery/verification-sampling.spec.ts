import { createHash, createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  completionOf,
  expiredMarket,
  honestOutput,
  submitJob,
  waitFor,
  type LeasedJob,
  type PhysicalMarket,
} from '../harness/delivery-fixtures.js';
import type { TestApp } from '../harness/test-app.js';

const KEY = 's'.repeat(40);
const JOBS = 24;

/**
 * A dishonest node against the verification sample (SPEC §6.1), through the node API with a real
 * node token. It knows the id of every job it leases and has this repository's code, so it
 * computes which jobs the clearing house would re-run from the id (the unkeyed hash the sample
 * once used), answers those honestly, and returns padding for the rest, claiming the full count.
 * The sample is keyed with the clearing house's secret: jobs the node thought safe are sampled
 * like any others, so its cheating is re-run and caught. Under the unkeyed sample none would be.
 */
describe('verification sampling against a node that predicts it', () => {
  let t: TestApp;
  let m: PhysicalMarket;

  beforeAll(async () => {
    ({ t, m } = await expiredMarket(
      { VERIFICATION_SAMPLING_KEY: KEY },
      {
        operators: 1,
        nodesPerOperator: 1,
        buyers: 1,
        trades: [{ seller: ['op', 0], buyer: ['buyer', 0], quantity: 1 }],
        product: { verificationBp: 5_000 },
      },
    ));
  }, 60_000);
  afterAll(() => t?.close());

  it('jobs the node predicted safe are re-run, as the keyed sample says, and its padding is marked for verification', async () => {
    const buyer = m.buyers[0];
    for (let i = 0; i < JOBS; i++) expect((await submitJob(buyer, m.series, 40, `question ${i}`)).status).toBe(201);
    const node = m.operators[0].nodes[0];
    const client = t.client(node.nodeToken);
    const leased: LeasedJob[] = [];
    await waitFor('every job leased', async () => {
      const res = await client.post<{ jobs: LeasedJob[] }>(`/v1/nodes/${node.id}/lease`, { maxJobs: JOBS, waitSeconds: 1 });
      leased.push(...res.body.jobs);
      return leased.length >= JOBS;
    });
    const predictedSampled = (id: string) => createHash('sha256').update(`verify:${id}`).digest().readUInt32BE(0) % 10_000 < 5_000;
    const cheated = leased.filter((j) => !predictedSampled(j.id));
    expect(cheated.length).toBeGreaterThan(4); // about half of 24
    const report = await client.post<{ items: { status: number }[] }>(`/v1/nodes/${node.id}/completions`, {
      completions: leased.map((j) =>
        predictedSampled(j.id)
          ? { ...completionOf(j, j.leaseToken, honestOutput(40)), usage: { prompt_tokens: 8, completion_tokens: 40 } }
          : { ...completionOf(j, j.leaseToken, ' x'.repeat(40)), usage: { prompt_tokens: 8, completion_tokens: 40 } },
      ),
    });
    expect(report.status, report.text).toBe(200);
    expect(report.body.items.every((i) => i.status === 200)).toBe(true);

    // What the clearing house sampled, as the buyer's API shows it.
    const verification = new Map<string, string>();
    for (const j of leased) {
      const view = await buyer.client.get<{ verification: { status: string } }>(`/v1/delivery/jobs/${j.id}`);
      expect(view.status).toBe(200);
      verification.set(j.id, view.body.verification.status);
    }
    const keyed = (id: string) => createHmac('sha256', KEY).update(id).digest().readUInt32BE(0) % 10_000 < 5_000;
    // Exactly the keyed sample: reproducible by whoever holds the key…
    for (const j of leased) expect(verification.get(j.id) !== 'NONE', j.id).toBe(keyed(j.id));
    // …and not by the node: some of the jobs it padded are sampled for a re-run.
    const caught = cheated.filter((j) => verification.get(j.id) !== 'NONE');
    expect(caught.length).toBeGreaterThan(0);
  }, 60_000);
});
