import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from '@mikro-orm/core';

/** What one HTTP request carries through every await. */
interface RequestScope {
  readonly requestId: string;
  /** The root EntityManager to fork from: set when the request may use the database. */
  root?: EntityManager;
  /** The request's own unit of work, forked the first time something asks for it. */
  em?: EntityManager;
  forking?: boolean;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** Runs one request: its id for every log line written meanwhile, and a unit of work of its own. */
export function runInRequestScope<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}

/** Lets the current request use the database; its EntityManager is forked only if it does. */
export function allowDatabase(root: EntityManager): void {
  const scope = storage.getStore();
  if (scope) scope.root = root;
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/**
 * MikroORM's `context` option (in place of its RequestContext, which forks for every request): the
 * request's own EntityManager. A request that never touches the ORM (`me` reads its row with one
 * prepared statement) never pays for a fork; outside a request there is none, and the ORM refuses
 * its global context.
 */
export function requestEntityManager(): EntityManager | undefined {
  const scope = storage.getStore();
  if (!scope?.root || scope.forking) return scope?.em;
  if (!scope.em) {
    // The fork's own construction asks for the context: it gets none, as with RequestContext.
    scope.forking = true;
    try {
      scope.em = scope.root.fork({ useContext: true, disableContextResolution: true });
    } finally {
      scope.forking = false;
    }
  }
  return scope.em;
}
