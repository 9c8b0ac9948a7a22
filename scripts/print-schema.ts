// npm run schema: rewrites schema.graphql from the code.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { printAppSchema } from '../src/graphql/print-schema';

printAppSchema().then((sdl) => {
  writeFileSync('schema.graphql', sdl);
  console.log('wrote schema.graphql');
});
