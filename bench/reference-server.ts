// The reference for bench:orders: NestJS on Express with one route doing one SELECT 1 through
// the same Prisma + pg adapter. Explicit @Inject tokens, so tsx can run it without metadata.
import 'reflect-metadata';
import { Controller, Get, Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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

const app = await NestFactory.create(PingModule, { logger: false });
await app.listen(Number(process.env.PORT), '127.0.0.1');
process.stdout.write('listening\n');
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
