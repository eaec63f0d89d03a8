import type { Server } from 'node:http';
import { GcProbe } from './gc-probe.js';

/**
 * The IPC side of a baseline child (bare proxy, JSON proxy, hello world), the same commands as the
 * gateway child: `mem` (memory and CPU), `mark` (the monotonic clock in µs, as in a .cpuprofile),
 * `gc-start` / `gc-stop` (allocation and GC pauses over a window) and `close` (runs `close`, then
 * exits). Exits when the parent goes; reports `ready` with the listening server's URL.
 */
export function serveBenchChild(server: Server, close: () => Promise<void>): void {
  const probe = new GcProbe();
  process.on('message', (m: { cmd: string; id: number }) => {
    const send = (r: Record<string, unknown>) => process.send?.({ id: m.id, ...r });
    if (m.cmd === 'mem') send({ mem: process.memoryUsage(), cpu: process.cpuUsage() });
    else if (m.cmd === 'gc-start') {
      probe.start();
      send({});
    } else if (m.cmd === 'gc-stop') send({ report: probe.stop(), cpu: process.cpuUsage() });
    else if (m.cmd === 'mark') send({ us: Number(process.hrtime.bigint() / 1000n) });
    else if (m.cmd === 'close') {
      void close().then(() => {
        send({});
        process.exit(0);
      });
    }
  });
  process.on('disconnect', () => process.exit(0));
  const a = server.address();
  process.send?.({ type: 'ready', url: `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}` });
}
