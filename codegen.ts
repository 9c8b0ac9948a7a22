import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * The typed client kit: every operation of the flow (client/operations/*.graphql), typed against
 * schema.graphql by the client preset. `npm run codegen` regenerates client/generated/;
 * `npm run codegen:check` (in CI) fails when it is stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  documents: ['client/operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    'client/generated/': {
      preset: 'client',
      presetConfig: { fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        useTypeImports: true,
        scalars: { DateTimeISO: 'string' },
      },
    },
  },
};

export default config;
