import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { printAppSchema } from '../../src/graphql/print-schema';

describe('schema.graphql', () => {
  it('matches the schema printed from the resolvers (run `npm run schema` after a change)', async () => {
    expect(readFileSync('schema.graphql', 'utf8')).toBe(await printAppSchema());
  });
});
