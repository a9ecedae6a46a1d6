import type { TestProject } from 'vitest/node';
import { resolveTestServices } from './services.js';
import { ensureTemplate } from './databases.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    redisUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { services, stop } = await resolveTestServices();
  const template = await ensureTemplate(services.databaseUrl);
  process.stderr.write(`[test] services from ${services.source}; template database ${template}\n`);
  project.provide('adminDatabaseUrl', services.databaseUrl);
  project.provide('redisUrl', services.redisUrl);
  project.provide('templateDatabase', template);
  return stop;
}
