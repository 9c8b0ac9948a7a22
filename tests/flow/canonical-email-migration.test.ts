import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { describe, expect, it } from 'vitest';
import { ormConfig } from '../../mikro-orm.config';
import { createScratchDatabase, queryDatabase } from '../support/database';

describe('the canonical email migration', () => {
  it('fills the canonical form of existing accounts with the function the service uses', async () => {
    const database = await createScratchDatabase();
    const orm = await MikroORM.init(ormConfig(database.url, { debug: false }));
    try {
      await orm.migrator.up({ to: 'Migration20261202020000' });
      const now = new Date();
      for (const email of ['ΟΔΟΣ.ada@Example.com', 'VİCTİM@example.com', 'plain@example.com']) {
        await queryDatabase(
          database.url,
          'insert into app_user (id, email, phone_number, password_hash, created_at, updated_at) values ($1, $2, $3, $4, $5, $5)',
          [randomUUID(), email, '+447400000001', 'x', now],
        );
      }
      await orm.migrator.up();
      const rows = await queryDatabase<{ email_canonical: string }>(database.url, 'select email_canonical from app_user order by email');
      expect(rows.map((r) => r.email_canonical).sort()).toEqual(['plain@example.com', 'vi̇cti̇m@example.com', 'οδοσ.ada@example.com'].sort());
    } finally {
      await orm.close();
      await database.drop();
    }
  });
});
