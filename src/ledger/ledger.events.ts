import { Injectable } from '@nestjs/common';
import { Subject } from 'rxjs';

/** Published after commit; other modules react (margin calls close on deposits). */
@Injectable()
export class LedgerEvents {
  readonly deposited = new Subject<{ memberId: string; amountFen: bigint }>();
}
