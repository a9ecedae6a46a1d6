// The reference for bench:orders: NestJS on Express with one route doing one SELECT 1 through
// the same Prisma + pg adapter. Explicit @Inject tokens, so tsx can run it without metadata.
// REFERENCE_ADAPTER=fastify serves the same module on @nestjs/platform-fastify: bench:orders
// measures both, which is what the HTTP adapter alone would change per request.
import 'reflect-metadata';
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { loadEnvConfig } from '../src/platform/config/config.js';
import { PrismaService } from '../src/platform/prisma/prisma.service.js';

const DB = Symbol('DB');

@Controller()
class PingController {
  constructor(@Inject(DB) private readonly prisma: PrismaService) {}

  @Get('ping')
  async ping(): Promise<{ ok: true }> {
    await this.prisma.$queryRaw`SELECT 1`;
    return { ok: true };
  }
}

@Module({
  controllers: [PingController],
  providers: [
    { provide: DB, useFactory: () => new PrismaService({ ...loadEnvConfig({}), databaseUrl: process.env.DATABASE_URL!, redisUrl: '' }) },
  ],
})
class PingModule {}

const app =
  process.env.REFERENCE_ADAPTER === 'fastify'
    ? await NestFactory.create(PingModule, new FastifyAdapter(), { logger: false })
    : await NestFactory.create(PingModule, { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
process.stdout.write('listening\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
