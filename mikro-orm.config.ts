import 'reflect-metadata';
import { Migrator } from '@mikro-orm/migrations';
import { defineConfig, type Options } from '@mikro-orm/postgresql';
import { requestEntityManager } from './src/context/request-scope';
import { migrationsList } from './src/migrations';
import { OtpChallenge } from './src/otp/otp-challenge.entity';
import { RATE_LIMIT_TABLE } from './src/rate-limits/limiter-store';
import { AuthEvent } from './src/audit/auth-event.entity';
import { RecoveryCode } from './src/recovery/recovery-code.entity';
import { RefreshToken } from './src/sessions/refresh-token.entity';
import { AuthSession } from './src/sessions/session.entity';
import { User } from './src/users/user.entity';

/**
 * The one ORM configuration, used by the service, the tests and the migration script alike.
 * Migrations are listed in code (src/migrations/index.ts) rather than found by glob, so the same
 * list loads from TypeScript sources (tests, dev runner) and from the compiled dist/.
 */
export function ormConfig(clientUrl: string, overrides: Partial<Options> = {}): Options {
  return defineConfig({
    clientUrl,
    entities: [User, OtpChallenge, AuthSession, RefreshToken, RecoveryCode, AuthEvent],
    extensions: [Migrator],
    migrations: { migrationsList, path: 'src/migrations', pathTs: 'src/migrations', allOrNothing: true, snapshot: false },
    // Every unit of work is request-scoped (forked on first use) or explicitly forked.
    allowGlobalContext: false,
    context: requestEntityManager,
    forceUtcTimezone: true,
    discovery: { disableDynamicFileAccess: true },
    pool: { min: 0, max: 10 },
    // Owned by rate-limiter-flexible, and the callbacks' replay guard (plain SQL): never diffed into a drop.
    schemaGenerator: { skipTables: [RATE_LIMIT_TABLE, 'seen_callback'] },
    ...overrides,
  });
}

export default ormConfig(process.env.DATABASE_URL ?? 'postgresql://127.0.0.1:5432/sinch_2fa');
