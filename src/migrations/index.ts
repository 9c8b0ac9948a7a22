import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127232332 } from './Migration20261127232332';
import { Migration20261128000000 } from './Migration20261128000000';
import { Migration20261128010000 } from './Migration20261128010000';
import { Migration20261202000000 } from './Migration20261202000000';
import { Migration20261202010000 } from './Migration20261202010000';
import { Migration20261202020000 } from './Migration20261202020000';
import { Migration20261202030000 } from './Migration20261202030000';
import { Migration20261202040000 } from './Migration20261202040000';
import { Migration20261202050000 } from './Migration20261202050000';
import { Migration20261202060000 } from './Migration20261202060000';
import { Migration20261203000000 } from './Migration20261203000000';
import { Migration20261203010000 } from './Migration20261203010000';
import { Migration20261204220000 } from './Migration20261204220000';

/** Every migration, oldest first. `npm run migration:create` writes a new file; add it here. */
export const migrationsList: MigrationObject[] = [
  { name: 'Migration20261127232332', class: Migration20261127232332 },
  { name: 'Migration20261128000000', class: Migration20261128000000 },
  { name: 'Migration20261128010000', class: Migration20261128010000 },
  { name: 'Migration20261202000000', class: Migration20261202000000 },
  { name: 'Migration20261202010000', class: Migration20261202010000 },
  { name: 'Migration20261202020000', class: Migration20261202020000 },
  { name: 'Migration20261202030000', class: Migration20261202030000 },
  { name: 'Migration20261202040000', class: Migration20261202040000 },
  { name: 'Migration20261202050000', class: Migration20261202050000 },
  { name: 'Migration20261202060000', class: Migration20261202060000 },
  { name: 'Migration20261203000000', class: Migration20261203000000 },
  { name: 'Migration20261203010000', class: Migration20261203010000 },
  { name: 'Migration20261204220000', class: Migration20261204220000 },
];
