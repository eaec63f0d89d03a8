/**
 * Memory with many streams held open: N streaming requests through the gateway whose upstream sends the
 * first chunk and then holds the stream; the gateway's RSS and heap are read while all N are open,
 * against the same gateway idle (after warm-up) in the same run. Then the upstream finishes them all and
 * the pool must be back to 0 adapters in use.
 */
import http from 'node:http';
import { startGateway, startUpstream, type MemoryUsage } from './lib/children.js';
import { HEADERS, HOLD_BODY, STREAM_BODY, runLoad } from './lib/load.js';
import { log, mb, signedMb, table, type Section } from './lib/report.js';

export interface MemoryOptions {
  streams: number;
}

interface PoolReply {
  status: { in_use_adapters: number; total_adapters: number; waiting: number };
}

export async function runMemory(o: MemoryOptions): Promise<Section> {
  const n = o.streams;
  const up = await startUpstream();
  try {
    const gw = await startGateway({ upstream: up, maxPoolSize: n });
    try {
      log(`memory: warming up, then ${n} streams held open`);
      await runLoad({ url: gw.chatUrl, connections: 50, durationS: 2 });
      await runLoad({ url: gw.chatUrl, connections: 50, durationS: 1, body: STREAM_BODY });
      await new Promise((r) => setTimeout(r, 200));
      const idleRaw = (await gw.call<{ mem: MemoryUsage }>('mem')).mem;
      const idleGc = (await gw.call<{ mem: MemoryUsage }>('gc')).mem;

      const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
      const u = new URL(gw.chatUrl);
      const body = Buffer.from(HOLD_BODY);
      let firsts = 0;
      let ended = 0;
      let failed = 0;
      let onProgress: () => void = () => {};
      const reqs: http.ClientRequest[] = [];
      const t0 = Date.now();
      for (let i = 0; i < n; i++) {
        const req = http.request(
          { agent, host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { ...HEADERS, 'content-length': body.length } },
          (res) => {
            let seen = false;
            if (res.statusCode !== 200) failed++;
            res.on('data', () => {
              if (!seen) {
                seen = true;
                firsts++;
                onProgress();
              }
            });
            res.on('end', () => {
              ended++;
              onProgress();
            });
            res.on('error', () => {
              failed++;
              onProgress();
            });
          },
        );
        req.on('error', () => {
          failed++;
          onProgress();
        });
        req.end(body);
        reqs.push(req);
      }
      const waitFor = (cond: () => boolean, ms: number, what: string) =>
        new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`memory: ${what} not reached within ${ms} ms (first chunks ${firsts}, ended ${ended}, failed ${failed})`)), ms);
          onProgress = () => {
            if (cond()) {
              clearTimeout(t);
              resolve();
            }
          };
          onProgress();
        });
      try {
        await waitFor(() => firsts + failed >= n, 60_000, `${n} open streams`);
        const openMs = Date.now() - t0;
        await new Promise((r) => setTimeout(r, 300));
        const heldRaw = (await gw.call<{ mem: MemoryUsage }>('mem')).mem;
        const heldPool = (await gw.call<PoolReply>('pool')).status;
        const heldGc = (await gw.call<{ mem: MemoryUsage }>('gc')).mem;
        const upHeld = (await up.call<{ held: number }>('stats')).held;

        await up.call('release');
        await waitFor(() => ended + failed >= n, 60_000, 'all streams ended');
        await new Promise((r) => setTimeout(r, 300));
        const after = (await gw.call<PoolReply>('pool')).status;
        const afterGc = (await gw.call<{ mem: MemoryUsage }>('gc')).mem;

        const perStream = (heldRaw.rss - idleRaw.rss) / n;
        const markdown = [
          `${n} streaming requests opened at once (${openMs} ms to get all first chunks); the upstream sends the first chunk of each and holds it. ` +
            `Deployment \`maxPoolSize: ${n}\` (one adapter, so one upstream connection, per open stream). ` +
            `While held: ${heldPool.in_use_adapters} adapters in use, ${upHeld} streams held by the upstream; after the upstream finished them: ` +
            `${after.in_use_adapters} in use, ${after.waiting} waiting, ${failed} failed requests.`,
          '',
          table(
            ['gateway process', 'RSS', 'heap used', 'heap total', 'external + array buffers'],
            [
              ['idle, after warm-up', mb(idleRaw.rss), mb(idleRaw.heapUsed), mb(idleRaw.heapTotal), mb(idleRaw.external)],
              ['idle, after GC', mb(idleGc.rss), mb(idleGc.heapUsed), mb(idleGc.heapTotal), mb(idleGc.external)],
              [`**${n} streams open**`, `**${mb(heldRaw.rss)}**`, mb(heldRaw.heapUsed), mb(heldRaw.heapTotal), mb(heldRaw.external)],
              [`${n} streams open, after GC`, mb(heldGc.rss), mb(heldGc.heapUsed), mb(heldGc.heapTotal), mb(heldGc.external)],
              ['difference (open − idle)', signedMb(heldRaw.rss - idleRaw.rss), signedMb(heldRaw.heapUsed - idleRaw.heapUsed), signedMb(heldRaw.heapTotal - idleRaw.heapTotal), signedMb(heldRaw.external - idleRaw.external)],
              ['per open stream', `${(perStream / 1024).toFixed(1)} KB`, `${((heldGc.heapUsed - idleGc.heapUsed) / n / 1024).toFixed(1)} KB (after GC)`, '', ''],
              ['all finished, after GC', mb(afterGc.rss), mb(afterGc.heapUsed), mb(afterGc.heapTotal), mb(afterGc.external)],
            ],
          ),
        ].join('\n');
        return {
          title: `Memory: ${n} streams held open`,
          markdown,
          targets: [
            { name: `gateway RSS with ${n} streams open`, value: mb(heldRaw.rss), target: '≤ 150 MB', met: heldRaw.rss <= 150 * 1024 * 1024 && failed === 0 },
            { name: `adapters in use after the ${n} streams ended`, value: String(after.in_use_adapters), target: '0', met: after.in_use_adapters === 0 },
          ],
          data: { n, openMs, idleRaw, idleGc, heldRaw, heldGc, heldPool, after, afterGc, failed },
        };
      } finally {
        for (const r of reqs) r.destroy();
        agent.destroy();
      }
    } finally {
      await gw.stop();
    }
  } finally {
    await up.stop();
  }
}
