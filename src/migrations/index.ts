import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261127232332 } from './Migration20261127232332';

/** Every migration, oldest first. `npm run migration:create` writes a new file; add it here. */
export const migrationsList: MigrationObject[] = [{ name: 'Migration20261127232332', class: Migration20261127232332 }];
