import type { Provider } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { PrismaService } from './prisma.service.js';
import { TransactionRunner } from './transaction-runner.js';

/**
 * Database access for a small Nest context outside the app (the CLI's bootstrap): the pool and
 * the TransactionRunner, so repositories and services there are wired exactly as in the app.
 * Closing the context closes the pool.
 */
export function databaseProviders(config: AppConfig): Provider[] {
  return [{ provide: APP_CONFIG, useValue: config }, PrismaService, TransactionRunner];
}
