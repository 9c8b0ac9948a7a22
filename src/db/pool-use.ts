import type { MikroORM } from '@mikro-orm/postgresql';
import type { PoolUse } from '../metrics/metrics';

/** The part of knex's connection pool (tarn) that the metrics read. */
interface TarnPool {
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** Reads the ORM's connection pool at each scrape; undefined while there is none (closed). */
export function poolUseOf(orm: MikroORM): () => PoolUse | undefined {
  return () => {
    const pool = (orm.em.getConnection().getKnex().client as { pool?: TarnPool }).pool;
    return pool ? { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() } : undefined;
  };
}
