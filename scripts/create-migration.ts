// Writes a migration for the difference between the entities and the database at DATABASE_URL
// (after applying the existing migrations). Usage: DATABASE_URL=... npm run migration:create
import 'reflect-metadata';
import { MikroORM } from '@mikro-orm/postgresql';
import { ormConfig } from '../mikro-orm.config';

async function main(): Promise<void> {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL must name a scratch database');
  const orm = await MikroORM.init(ormConfig(url));
  try {
    await orm.migrator.up();
    const result = await orm.migrator.createMigration('src/migrations', false, false);
    console.log(result.fileName ? `wrote src/migrations/${result.fileName}; add it to src/migrations/index.ts` : 'no changes');
  } finally {
    await orm.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
