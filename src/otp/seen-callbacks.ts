import type { EntityManager } from '@mikro-orm/postgresql';
import type { CallbackReplays } from '../sinch/callbacks';

/**
 * Callbacks already processed, shared by every replica (a replay may reach another one): one
 * insert that only the first delivery wins. Rows expire with the timestamp window and are deleted
 * by the cleanup pass.
 */
export class SeenCallbacks implements CallbackReplays {
  constructor(private readonly em: EntityManager) {}

  async firstTime(digest: string, until: Date): Promise<boolean> {
    const rows = await this.em.execute(
      'insert into seen_callback (digest, expires_at) values (?, ?) on conflict (digest) do nothing returning digest',
      [digest, until],
    );
    return rows.length === 1;
  }
}
