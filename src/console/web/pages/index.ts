import type { ComponentType } from 'react';
import type { Me } from '../types';
import { Adjustments } from './adjustments';
import { Breaks } from './breaks';
import { Capacity } from './capacity';
import { Defaults } from './defaults';
import { Delivery } from './delivery';
import { Markets } from './markets';
import { Members } from './members';
import { Overview } from './overview';
import { Runs } from './runs';

/** The console's pages in navigation order; the first is the start page. */
export const PAGES: { id: string; title: string; component: ComponentType<{ me: Me }> }[] = [
  { id: 'overview', title: 'Overview', component: Overview },
  { id: 'runs', title: 'Settlement runs', component: Runs },
  { id: 'breaks', title: 'Breaks', component: Breaks },
  { id: 'adjustments', title: 'Adjustments', component: Adjustments },
  { id: 'defaults', title: 'Defaults', component: Defaults },
  { id: 'members', title: 'Members', component: Members },
  { id: 'capacity', title: 'Capacity', component: Capacity },
  { id: 'delivery', title: 'Delivery', component: Delivery },
  { id: 'markets', title: 'Markets', component: Markets },
];
