import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

export interface RunView {
  id: string;
  status: string;
  price: string;
  checksum: string;
  businessDate: string;
  transferCount: number;
}

/** Starts a settlement run over HTTP and waits until the worker has completed it. */
export async function settle(t: TestApp, body: { type: string; series: string; businessDate?: string }): Promise<RunView> {
  const started = await t.clearing.post<RunView>('/v1/settlement/runs', body);
  expect(started.status, started.text).toBe(201);
  return waitForRun(t, started.body.id);
}

export async function waitForRun(t: TestApp, id: string): Promise<RunView> {
  for (let i = 0; i < 400; i++) {
    const run = await t.clearing.get<RunView>(`/v1/settlement/runs/${id}`);
    if (run.body.status === 'COMPLETED') return run.body;
    if (run.body.status === 'FAILED') throw new Error(`run failed: ${run.text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`run ${id} did not complete`);
}
