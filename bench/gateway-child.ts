/**
 * The gateway as the benchmarks run it: its own process, built with `buildGateway` from a config given
 * in `BENCH_GATEWAY_CONFIG` (JSON, which is YAML), logging at `info` (the default level) to its stdout,
 * which the parent points at a log file.
 *
 * IPC in:  { cmd: 'mem' | 'gc' | 'pool' | 'mark' | 'gc-start' | 'gc-stop' | 'close', id }   (`mark`: the monotonic clock in µs, as in a .cpuprofile;
 *          `gc-start` / `gc-stop`: allocation and GC pauses over a window, bench/lib/gc-probe.ts;
 *          `heap-start` / `heap-stop`: sampled allocations by function, bench/lib/heap-sampler.ts)
 * IPC out: { type: 'ready', url } then { id, ...reply }
 */
import { parseConfig } from '../src/config/index.js';
import { PROVIDER_TYPES } from '../src/providers/registry.js';
import { buildGateway, createLogger } from '../src/server/index.js';
import { GcProbe } from './lib/gc-probe.js';
import { HeapSampler } from './lib/heap-sampler.js';

const text = process.env.BENCH_GATEWAY_CONFIG;
if (!text) throw new Error('BENCH_GATEWAY_CONFIG is not set');
const config = parseConfig(text, { source: 'BENCH_GATEWAY_CONFIG', env: {}, providerTypes: PROVIDER_TYPES });
const gateway = await buildGateway(config, { logger: createLogger(config.logging.level, undefined, { format: config.logging.format, flushIntervalMs: config.logging.flushInterval }) });
const url = await gateway.listen({ host: '127.0.0.1', port: 0 });

type Command = { cmd: 'mem' | 'gc' | 'pool' | 'mark' | 'gc-start' | 'gc-stop' | 'heap-start' | 'heap-stop' | 'close'; id: number };
const probe = new GcProbe();
const sampler = new HeapSampler();
const gc = (globalThis as { gc?: () => void }).gc;

process.on('message', (m: Command) => {
  const send = (r: Record<string, unknown>) => process.send?.({ id: m.id, ...r });
  switch (m.cmd) {
    case 'gc':
      gc?.();
      gc?.();
      send({ mem: process.memoryUsage(), gc: gc !== undefined });
      break;
    case 'mem':
      send({ mem: process.memoryUsage(), cpu: process.cpuUsage() });
      break;
    case 'mark':
      send({ us: Number(process.hrtime.bigint() / 1000n) });
      break;
    case 'gc-start':
      probe.start();
      send({});
      break;
    case 'gc-stop':
      send({ report: probe.stop(), cpu: process.cpuUsage() });
      break;
    case 'heap-start':
      sampler.start().then(() => send({}), (err: unknown) => send({ error: String(err) }));
      break;
    case 'heap-stop':
      sampler.stop().then((profile) => send({ profile }), (err: unknown) => send({ error: String(err) }));
      break;
    case 'pool':
      send({ status: gateway.pool.status(), stats: gateway.pool.stats() });
      break;
    case 'close':
      // Exit normally (not by a signal) so that --cpu-prof writes its profile.
      gateway.close(2_000).then(
        () => {
          send({});
          process.exit(0);
        },
        (err: unknown) => {
          send({ error: String(err) });
          process.exit(1);
        },
      );
      break;
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', url });
