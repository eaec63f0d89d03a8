/**
 * Where the gateway allocates per request: `node dist/bench/alloc.js [stream] [seconds]` runs the
 * gateway child under a fixed 1,000 req/s with V8's sampling heap profiler on, and prints the
 * functions that allocate the most (self and total bytes per request). A tool for hot-path work,
 * not part of `npm run bench`.
 */
import { startGateway, startUpstream } from './lib/children.js';
import type { AllocationRow } from './lib/heap-sampler.js';
import { CHAT_BODY, STREAM_BODY, runLoad } from './lib/load.js';

const stream = process.argv.includes('stream');
const seconds = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
const body = stream ? STREAM_BODY : CHAT_BODY;
const up = await startUpstream();
const gw = await startGateway({ upstream: up, maxPoolSize: 50 });
try {
  await runLoad({ url: gw.chatUrl, connections: 10, durationS: 2, body });
  await gw.call('heap-start');
  const r = await runLoad({ url: gw.chatUrl, connections: 10, durationS: seconds, rate: 1000, body });
  const { profile } = await gw.call<{ profile: AllocationRow[] }>('heap-stop', 60_000);
  const per = (b: number) => `${(b / r.ok).toFixed(0).padStart(6)} B`;
  const all = profile.reduce((a, x) => a + x.selfBytes, 0);
  console.log(`${r.ok} requests; sampled allocation ${per(all)} per request (sampling: an estimate)\n\nself per request  total per request  function`);
  for (const x of profile.slice(0, 45)) console.log(`${per(x.selfBytes)}  ${per(x.totalBytes)}  ${x.fn} ${x.where}`);
  console.log('\nlargest totals:');
  for (const x of [...profile].sort((a, b) => b.totalBytes - a.totalBytes).slice(0, 40)) console.log(`${per(x.totalBytes)}  ${x.fn} ${x.where}`);
} finally {
  await gw.stop();
  await up.stop();
}
