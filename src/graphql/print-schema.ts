import 'reflect-metadata';
import { printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { RESOLVERS } from './schema';

export const SCHEMA_HEADER = '# Printed from the resolvers by `npm run schema`; a test fails when it drifts. Do not edit.\n\n';

/** The SDL clients generate their types from; needs no database and no services. */
export async function printAppSchema(): Promise<string> {
  const schema = await buildSchema({ resolvers: RESOLVERS, authChecker: () => false, validate: false });
  return SCHEMA_HEADER + printSchema(schema) + '\n';
}
