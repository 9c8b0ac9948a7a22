import { DeadlockException, type EntityManager } from '@mikro-orm/postgresql';
import { DEADLOCK_ATTEMPTS, SQLSTATE, sqlStateOf, transactionOf } from './prepared';

/**
 * `em.transactional`, retried when PostgreSQL picks it as a deadlock's victim (its changes were
 * rolled back, so running it again is safe). Two requests of one user can take row locks in
 * different orders (deleting the account while a code is being verified, say); one of them then
 * gets a second go instead of a 500. Inside an outer transaction nothing is retried: the outer one
 * is aborted as a whole, and its own caller decides.
 */
export function inTransaction<T>(em: EntityManager, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return retryingDeadlocks(em, () => em.transactional(work));
}

async function retryingDeadlocks<T>(em: EntityManager, attempt: () => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    try {
      return await attempt();
    } catch (error) {
      // The ORM's statements raise its DeadlockException, named statements the driver's error.
      const deadlock = error instanceof DeadlockException || sqlStateOf(error) === SQLSTATE.deadlockDetected;
      const retryable = deadlock && tries < DEADLOCK_ATTEMPTS && !transactionOf(em);
      if (!retryable) throw error;
    }
  }
}
