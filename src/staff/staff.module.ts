import { Module } from '@nestjs/common';
import { MembersModule } from '../members/members.module.js';
import { BootstrapService } from './bootstrap.service.js';
import { StaffController } from './staff.controller.js';
import { StaffRepository } from './staff.repository.js';
import { StaffService } from './staff.service.js';

@Module({
  imports: [MembersModule],
  controllers: [StaffController],
  providers: [StaffRepository, StaffService, BootstrapService],
  exports: [StaffRepository, StaffService, BootstrapService],
})
export class StaffModule {}
