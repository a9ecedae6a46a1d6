import { Module } from '@nestjs/common';
import { CapacityModule } from '../capacity/capacity.module.js';
import { MarketsModule } from '../markets/markets.module.js';
import { ConsoleController } from './console.controller.js';
import { ConsoleRepository } from './console.repository.js';

/** Read endpoints behind the clearing console and the public market board (the pages are static). */
@Module({
  imports: [MarketsModule, CapacityModule],
  controllers: [ConsoleController],
  providers: [ConsoleRepository],
})
export class ConsoleModule {}
