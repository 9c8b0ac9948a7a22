// What the metrics add to one GraphQL request, measured in one process without the network, the
// database or other processes (issue 11: "its own cost"): two Apollo servers built by the service's
// createApollo over the same small schema, one without metrics and one recording into
// PrometheusMetrics, served the same `me`-shaped query in alternating rounds. Prints CPU µs per
// request for each and their difference; the last line is the figures as JSON (read by run.ts).
//   node -r @swc-node/register bench/metrics-recording.ts   (METRICS_RECORDING_ROUNDS=60, METRICS_RECORDING_REQUESTS=5000)
// The whole-service comparison (run.ts, metrics row) varies by a few per cent between pairs of
// processes; this isolates the recording, at the price of sharing the JIT's code between the two.
import 'reflect-metadata';
import { HeaderMap } from '@apollo/server';
import { buildSchema } from 'graphql';
import type { GraphQLContext } from '../src/graphql/context';
import { createApollo } from '../src/graphql/apollo';
import { PrometheusMetrics } from '../src/metrics/metrics';
import { median } from './lib/http';

const ROUNDS = Number(process.env.METRICS_RECORDING_ROUNDS ?? 60);
const REQUESTS = Number(process.env.METRICS_RECORDING_REQUESTS ?? 5000);
const LIMITS = { maxDepth: 10, maxAliases: 10, maxCost: 1000, maxTokens: 1000 };

async function main(): Promise<void> {
  const schema = buildSchema('type Query { me: User } type User { id: ID! email: String! phoneVerified: Boolean! }');
  const me = schema.getQueryType()?.getFields().me;
  if (!me) throw new Error('no me field');
  me.resolve = () => ({ id: '1', email: 'someone@example.com', phoneVerified: true });
  const variants = {
    off: createApollo(schema, { production: true, limits: LIMITS }),
    on: createApollo(schema, { production: true, limits: LIMITS, metrics: new PrometheusMetrics() }),
  };
  const headers = new HeaderMap([['content-type', 'application/json']]);
  const body = { query: 'query Me { me { id email phoneVerified } }', operationName: 'Me' };
  const context = async () => ({}) as GraphQLContext;
  const serve = (apollo: (typeof variants)['on']) =>
    apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest: { method: 'POST', headers, search: '', body }, context });
  const perRequestUs = async (apollo: (typeof variants)['on'], count: number) => {
    const start = process.cpuUsage();
    for (let i = 0; i < count; i++) await serve(apollo);
    const used = process.cpuUsage(start);
    return (used.user + used.system) / count;
  };
  // Many short rounds, alternating: the machine's drift (other work, the hypervisor) falls on both.
  const rounds: Record<keyof typeof variants, number[]> = { off: [], on: [] };
  for (const apollo of Object.values(variants)) {
    await apollo.start();
    await perRequestUs(apollo, REQUESTS * 4);
    const { body: answer } = await serve(apollo);
    const text = answer.kind === 'complete' ? answer.string : '';
    if (!text.includes('"email":"someone@example.com"')) throw new Error(`the query was not answered with data: ${text}`);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, apollo] of Object.entries(variants) as Array<[keyof typeof variants, (typeof variants)['on']]>) {
      rounds[name].push(await perRequestUs(apollo, REQUESTS));
    }
  }
  await Promise.all(Object.values(variants).map((apollo) => apollo.stop()));
  const [off, on] = [median(rounds.off), median(rounds.on)];
  console.log(
    `Apollo request, CPU µs (median of ${ROUNDS} rounds of ${REQUESTS} requests each): metrics off ${off.toFixed(2)}, on ${on.toFixed(2)}; the recording ${(on - off).toFixed(2)}`,
  );
  console.log(JSON.stringify({ offUs: off, onUs: on, recordingUs: on - off }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
