import { Inject, Injectable } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/config.js';
import { businessDateOf } from './business-date.js';

/** The only source of "now" in domain code, so tests can move time. */
@Injectable()
export class Clock {
  private offsetMs = 0;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  businessDate(at: Date = this.now()): string {
    return businessDateOf(at, this.config.eodCutoff);
  }

  /** Test hook: from here on, now() runs on from `instant`. */
  set(instant: Date): void {
    this.offsetMs = instant.getTime() - Date.now();
  }
}
