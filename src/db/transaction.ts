import type { EntityManager } from '@mikro-orm/postgresql';
import { retryingDeadlocks } from './prepared';

/**
 * `em.transactional`, retried when PostgreSQL picks it as a deadlock's victim (`retryingDeadlocks`,
 * as a statement run alone is). Two requests of one user can take row locks in
 * different orders (deleting the account while a code is being verified, say); one of them then
 * gets a second go instead of a 500. Inside an outer transaction nothing is retried: the outer one
 * is aborted as a whole, and its own caller decides.
 */
export function inTransaction<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return retryingDeadlocks(em, () => em.transactional(work));
}
