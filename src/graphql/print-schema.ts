import 'reflect-metadata';
import { printSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { loadConfig } from '../config/config';
import { schemaOptions } from './schema';

export const SCHEMA_HEADER = '# Printed from the resolvers by `npm run schema`; a test fails when it drifts. Do not edit.\n\n';

/** The SDL clients generate their types from; needs no database and no services. */
export async function printAppSchema(): Promise<string> {
  // Directive defaults show the default limits; a deployment's own limits do not change the SDL's shape.
  const schema = await buildSchema({ ...schemaOptions(loadConfig({}).rateLimits.policies), authChecker: () => false });
  return SCHEMA_HEADER + printSchema(schema) + '\n';
}
