/**
 * Gateway overhead: the same load (wrk when installed, else autocannon) straight at the upstream,
 * through a bare proxy and through the gateway, all in child processes, rounds interleaved (direct,
 * bare, gateway, direct, …) so drift on a shared machine hits all alike; each figure is the median over
 * rounds of the paired ratio or difference. Each round also measures fastify's own floor: a
 * hello-world route against a Node `http` hello world.
 */
import { startBareProxy, startGateway, startHello, startJsonProxy, startUpstream, type CpuUsage, type GatewayChild, type Upstream } from './lib/children.js';
import { CHAT_BODY, STREAM_BODY, closedLoopLoadgen, measureTtft, median, runLoad, type LoadResult, type TtftResult } from './lib/load.js';
import { log, ms, ratio, rps, signedMs, table, type Section } from './lib/report.js';
import { STREAM_CHUNKS } from './lib/shape.js';

export interface OverheadOptions {
  rounds: number;
  /** Seconds per measurement. */
  seconds: number;
  /** Streaming requests per time-to-first-token measurement. */
  ttftCount: number;
}

/** One measurement of the three setups, back to back. */
interface Trio {
  direct: LoadResult;
  bare: LoadResult;
  gateway: LoadResult;
  /** CPU µs per request of each process, per setup. */
  cpu: {
    direct: { loadgen: number; upstream: number };
    bare: { loadgen: number; proxy: number; upstream: number };
    gateway: { loadgen: number; proxy: number; upstream: number };
  };
}

type Side = 'direct' | 'bare' | 'gateway';
type Cpuful = { call<T>(cmd: string): Promise<T> };

async function cpuOf(c: Cpuful, cmd: string): Promise<number> {
  const r = await c.call<{ cpu: CpuUsage }>(cmd);
  return r.cpu.user + r.cpu.system;
}

/** Run one load and return it with the CPU µs per 2xx response spent by the load generator, the proxy (if any) and the upstream. */
async function measured(up: Upstream | undefined, proxy: GatewayChild | undefined, url: string, connections: number, seconds: number, body: string) {
  const u0 = up ? await cpuOf(up, 'stats') : 0;
  const p0 = proxy ? await cpuOf(proxy, 'mem') : 0;
  const r = await runLoad({ url, connections, durationS: seconds, body });
  const u1 = up ? await cpuOf(up, 'stats') : 0;
  const p1 = proxy ? await cpuOf(proxy, 'mem') : 0;
  const per = (us: number) => (r.ok > 0 ? us / r.ok : NaN);
  return { r, cpu: { loadgen: per(r.loadgenCpuUs), proxy: per(p1 - p0), upstream: per(u1 - u0) } };
}

/** Fastify's floor: the same hello-world reply from Node `http` and from a fastify route (no upstream). */
interface Floor {
  node: LoadResult;
  fastify: LoadResult;
  cpu: { node: number; fastify: number };
}

async function floor(node: GatewayChild, fastify: GatewayChild, seconds: number): Promise<Floor> {
  const n = await measured(undefined, node, node.chatUrl, 50, seconds, CHAT_BODY);
  const f = await measured(undefined, fastify, fastify.chatUrl, 50, seconds, CHAT_BODY);
  return { node: n.r, fastify: f.r, cpu: { node: n.cpu.proxy, fastify: f.cpu.proxy } };
}

/** The gateway's layers, 50 connections, non-streaming: a proxy that parses the body, and the gateway with its features off. */
interface Layers {
  json: LoadResult;
  core: LoadResult;
  cpu: { json: number; core: number };
}

/** The gateway with every optional feature off: no API key, no usage ledger, no metrics, log lines only at warn. */
const CORE_CONFIG = { auth: { apiKeys: [] }, usage: { enabled: false }, metrics: { enabled: false }, logging: { level: 'warn' } };

async function layers(up: Upstream, json: GatewayChild, core: GatewayChild, seconds: number): Promise<Layers> {
  const j = await measured(up, json, json.chatUrl, 50, seconds, CHAT_BODY);
  const c = await measured(up, core, core.chatUrl, 50, seconds, CHAT_BODY);
  return { json: j.r, core: c.r, cpu: { json: j.cpu.proxy, core: c.cpu.proxy } };
}

async function trio(up: Upstream, bare: GatewayChild, gw: GatewayChild, connections: number, seconds: number, body: string): Promise<Trio> {
  const d = await measured(up, undefined, up.chatUrl, connections, seconds, body);
  const b = await measured(up, bare, bare.chatUrl, connections, seconds, body);
  const g = await measured(up, gw, gw.chatUrl, connections, seconds, body);
  return {
    direct: d.r,
    bare: b.r,
    gateway: g.r,
    cpu: { direct: { loadgen: d.cpu.loadgen, upstream: d.cpu.upstream }, bare: b.cpu, gateway: g.cpu },
  };
}

export async function runGatewayOverhead(o: OverheadOptions): Promise<Section> {
  const up = await startUpstream();
  let gw: GatewayChild | undefined;
  let bare: GatewayChild | undefined;
  let helloNode: GatewayChild | undefined;
  let helloFastify: GatewayChild | undefined;
  let json: GatewayChild | undefined;
  let core: GatewayChild | undefined;
  try {
    gw = await startGateway({ upstream: up, maxPoolSize: 50 });
    bare = await startBareProxy(up);
    helloNode = await startHello('node');
    helloFastify = await startHello('fastify');
    json = await startJsonProxy(up);
    core = await startGateway({ upstream: up, maxPoolSize: 50, extra: CORE_CONFIG });
    log(`overhead: upstream pid ${up.pid}, bare proxy pid ${bare.pid}, gateway pid ${gw.pid}; warming up (load generator: ${closedLoopLoadgen()})`);
    for (const url of [up.chatUrl, bare.chatUrl, gw.chatUrl]) {
      await runLoad({ url, connections: 50, durationS: 2 });
      await runLoad({ url, connections: 50, durationS: 1, body: STREAM_BODY });
      await measureTtft(url, 100, 5_000);
    }
    for (const url of [helloNode.chatUrl, helloFastify.chatUrl, json.chatUrl, core.chatUrl]) await runLoad({ url, connections: 50, durationS: 1 });

    const one: Trio[] = [];
    const fifty: Trio[] = [];
    const stream50: Trio[] = [];
    const floors: Floor[] = [];
    const layered: Layers[] = [];
    const ttft: Array<Record<Side, TtftResult>> = [];
    for (let r = 0; r < o.rounds; r++) {
      log(`overhead: round ${r + 1}/${o.rounds}`);
      floors.push(await floor(helloNode, helloFastify, o.seconds));
      one.push(await trio(up, bare, gw, 1, o.seconds, CHAT_BODY));
      fifty.push(await trio(up, bare, gw, 50, o.seconds, CHAT_BODY));
      layered.push(await layers(up, json, core, o.seconds));
      stream50.push(await trio(up, bare, gw, 50, o.seconds, STREAM_BODY));
      ttft.push({
        direct: await measureTtft(up.chatUrl, o.ttftCount, 20_000),
        bare: await measureTtft(bare.chatUrl, o.ttftCount, 20_000),
        gateway: await measureTtft(gw.chatUrl, o.ttftCount, 20_000),
      });
    }

    const sides: Side[] = ['direct', 'bare', 'gateway'];
    const failed =
      [...one, ...fifty, ...stream50].reduce((n, t) => n + t.direct.failed + t.bare.failed + t.gateway.failed, 0) +
      floors.reduce((n, f) => n + f.node.failed + f.fastify.failed, 0) +
      layered.reduce((n, l) => n + l.json.failed + l.core.failed, 0) +
      ttft.reduce((n, t) => n + t.direct.failed + t.bare.failed + t.gateway.failed, 0);
    const med = <T>(xs: T[], f: (x: T) => number) => median(xs.map(f));
    const ratioOf = (ts: Trio[], side: Side) => med(ts, (t) => t[side].rps / t.direct.rps);
    const addOf = (ts: Trio[], side: Side, q: 'p50' | 'p99' | 'mean') => med(ts, (t) => t[side][q] - t.direct[q]);
    // The targets, each against the bare proxy of the same round.
    const vsBare50 = med(fifty, (t) => t.gateway.rps / t.bare.rps);
    const meanOver = med(one, (t) => t.gateway.mean - t.direct.mean - (t.bare.mean - t.direct.mean));
    const p99Over = med(one, (t) => t.gateway.p99 - t.direct.p99 - (t.bare.p99 - t.direct.p99));
    const streamCpu = med(stream50, (t) => t.cpu.gateway.proxy / t.cpu.bare.proxy);
    const addTtft = med(ttft, (t) => t.gateway.p50 - t.direct.p50);
    const loadgen = closedLoopLoadgen();

    const label: Record<Side, string> = { direct: 'direct to the upstream', bare: 'bare proxy (floor)', gateway: '**through the gateway**' };
    const bold = (side: Side, text: string) => (side === 'gateway' ? `**${text}**` : text);
    const loadRows = (ts: Trio[], conns: string, what: string) =>
      sides.map((side) => [
        `${label[side]}${what}`,
        conns,
        rps(med(ts, (t) => t[side].rps)),
        side === 'direct' ? '1.00' : ratio(ratioOf(ts, side)),
        side === 'gateway' ? bold(side, ratio(med(ts, (t) => t.gateway.rps / t.bare.rps))) : side === 'bare' ? '1.00' : '—',
        ms(med(ts, (t) => t[side].mean)),
        side === 'direct' ? '—' : bold(side, signedMs(addOf(ts, side, 'mean'))),
        ms(med(ts, (t) => t[side].p99)),
        side === 'direct' ? '—' : bold(side, signedMs(addOf(ts, side, 'p99'))),
      ]);
    const main = table(
      ['chat completion', 'connections', 'req/s', '÷ direct', '÷ bare proxy', 'mean', 'added mean', 'p99', 'added p99'],
      [...loadRows(one, '1', ''), ...loadRows(fifty, '50', ''), ...loadRows(stream50, '50', `, streaming (${STREAM_CHUNKS} chunks)`)],
    );
    const tt = table(
      ['time to first token (1 connection, sequential)', 'p50', 'added p50', 'p99', 'added p99', 'whole stream p50'],
      sides.map((side) => [
        label[side],
        ms(med(ttft, (t) => t[side].p50)),
        side === 'direct' ? '—' : signedMs(med(ttft, (t) => t[side].p50 - t.direct.p50)),
        ms(med(ttft, (t) => t[side].p99)),
        side === 'direct' ? '—' : signedMs(med(ttft, (t) => t[side].p99 - t.direct.p99)),
        ms(med(ttft, (t) => t[side].totalP50)),
      ]),
    );
    const us = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} µs` : 'n/a');
    const signedUs = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(1)} µs` : 'n/a');
    const cpuRows = (ts: Trio[], what: string) => [
      [`direct${what}`, us(med(ts, (t) => t.cpu.direct.loadgen)), '—', '—', us(med(ts, (t) => t.cpu.direct.upstream))],
      [`bare proxy${what}`, us(med(ts, (t) => t.cpu.bare.loadgen)), us(med(ts, (t) => t.cpu.bare.proxy)), '1.00', us(med(ts, (t) => t.cpu.bare.upstream))],
      [
        `**gateway**${what}`,
        us(med(ts, (t) => t.cpu.gateway.loadgen)),
        `**${us(med(ts, (t) => t.cpu.gateway.proxy))}**`,
        `**${ratio(med(ts, (t) => t.cpu.gateway.proxy / t.cpu.bare.proxy))}**`,
        us(med(ts, (t) => t.cpu.gateway.upstream)),
      ],
    ];
    const cpu = table(
      ['CPU time per request (user+system), 50 connections', `load generator (${loadgen})`, 'proxy / gateway', '÷ bare proxy', 'upstream'],
      [...cpuRows(fifty, ''), ...cpuRows(stream50, `, streaming (${STREAM_CHUNKS} chunks)`)],
    );
    const floorTable = table(
      ['hello world (no upstream), 50 connections', 'req/s', '÷ Node http', 'CPU per request', 'mean', 'p99'],
      [
        ['Node `http`', rps(med(floors, (f) => f.node.rps)), '1.00', us(med(floors, (f) => f.cpu.node)), ms(med(floors, (f) => f.node.mean)), ms(med(floors, (f) => f.node.p99))],
        [
          'fastify route (no logger, no hooks)',
          rps(med(floors, (f) => f.fastify.rps)),
          ratio(med(floors, (f) => f.fastify.rps / f.node.rps)),
          us(med(floors, (f) => f.cpu.fastify)),
          ms(med(floors, (f) => f.fastify.mean)),
          ms(med(floors, (f) => f.fastify.p99)),
        ],
      ],
    );
    // Layers: each round's JSON proxy and core gateway against the same round's bare proxy and gateway.
    const layerRows = table(
      ['50 connections, non-streaming, same rounds', 'req/s', '÷ bare proxy', 'CPU per request', 'CPU over the row above'],
      [
        ['bare proxy (bytes through)', rps(med(fifty, (t) => t.bare.rps)), '1.00', us(med(fifty, (t) => t.cpu.bare.proxy)), '—'],
        [
          'JSON proxy (bench/json-proxy.ts: + `JSON.parse` of the body, model replaced, `JSON.stringify`, reply read whole)',
          rps(med(layered, (l) => l.json.rps)),
          ratio(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => l.json.rps / t.bare.rps)),
          us(med(layered, (l) => l.cpu.json)),
          signedUs(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => l.cpu.json - t.cpu.bare.proxy)),
        ],
        [
          'gateway, optional features off (no API key, no usage ledger, no metrics, log at warn)',
          rps(med(layered, (l) => l.core.rps)),
          ratio(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => l.core.rps / t.bare.rps)),
          us(med(layered, (l) => l.cpu.core)),
          signedUs(med(layered, (l) => l.cpu.core - l.cpu.json)),
        ],
        [
          '**gateway, every feature on** (as above)',
          rps(med(fifty, (t) => t.gateway.rps)),
          ratio(med(fifty, (t) => t.gateway.rps / t.bare.rps)),
          us(med(fifty, (t) => t.cpu.gateway.proxy)),
          signedUs(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => t.cpu.gateway.proxy - l.cpu.core)),
        ],
      ],
    );
    const gwCpu = med(fifty, (t) => t.cpu.gateway.proxy);
    const bareCpu = med(fifty, (t) => t.cpu.bare.proxy);
    const fastifyCpu = med(floors, (f) => f.cpu.fastify - f.cpu.node);
    const markdown = [
      `Median of ${o.rounds} interleaved round(s) of ${o.seconds} s per setup (${loadgen === 'wrk' ? 'wrk, one thread, in its own process' : 'autocannon in the parent process'}, closed loop, one request per connection at a time; ` +
        'upstream, bare proxy and gateway each in their own child process); ratios and differences are taken per round, then the median. ' +
        'Bare proxy: bench/bare-proxy.ts, Node `http` → undici `Pool`, bytes passed through, nothing parsed. ' +
        'Gateway: deployment `maxPoolSize: 50`, every feature on: the per-request log line at `info`, metrics, request validation, one API key, the usage ledger (SQLite, in a scratch directory). ' +
        `Streams: ${STREAM_CHUNKS} chunks and \`[DONE]\`, each its own write by the upstream. ` +
        `Time to first token: ${o.ttftCount} sequential streaming requests per round on one keep-alive connection, request sent → first \`data:\` bytes.` +
        (failed > 0 ? ` **${failed} requests failed.**` : ' No request failed.'),
      '',
      main,
      '',
      tt,
      '',
      cpu,
      '',
      `The load generator, the upstream and the proxy share both cores, so req/s through a proxy is bounded by the CPU the three spend per request together: ` +
        `the gateway spends ${us(gwCpu)} per non-streaming request where the bare proxy spends ${us(bareCpu)} (${ratio(gwCpu / bareCpu)}×).`,
      '',
      "Fastify's own floor, same rounds: the same constant reply from a Node `http` server and from a fastify route (bench/hello.ts).",
      '',
      floorTable,
      '',
      `So fastify itself costs ${us(fastifyCpu)} of CPU per request over Node \`http\` on this machine.`,
      '',
      'Where the gateway\'s CPU goes, layer by layer (two more child processes measured in the same rounds): what any proxy that routes by model pays to read the body, ' +
        "what the gateway's core adds (fastify, validation, routing, the adapter pool, the provider adapter, the hang-up signal), and what its optional features add (the API key check, the usage ledger, metrics, the per-request log line).",
      '',
      layerRows,
    ].join('\n');

    const notes: string[] = [];
    if (vsBare50 < 0.8) {
      notes.push(
        `**Throughput at 50 connections (${ratio(vsBare50)}× the bare proxy, target 0.80×).** The gateway spends ${us(gwCpu)} of CPU per request against the bare proxy's ${us(bareCpu)}; ` +
          `fastify alone accounts for ${us(fastifyCpu)} of that (hello-world floor above). By layer (same rounds): reading the body as JSON ${signedUs(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => l.cpu.json - t.cpu.bare.proxy))}, ` +
          `the gateway's core ${signedUs(med(layered, (l) => l.cpu.core - l.cpu.json))}, its optional features ${signedUs(med(layered.map((l, i) => ({ l, t: fifty[i]! })), ({ l, t }) => t.cpu.gateway.proxy - l.cpu.core))}; ` +
          `0.80× means at most ${us(bareCpu / 0.8)} per request. "Hot-path profile" in bench/results.md says where the rest goes.`,
      );
    }
    if (meanOver > 0.05 || p99Over > 0.3) {
      notes.push(
        `**Latency at 1 connection (mean ${signedMs(meanOver)}, p99 ${signedMs(p99Over)} over the bare proxy's own added latency; targets +0.05 / +0.3 ms).** ` +
          `The bare proxy alone adds ${signedMs(addOf(one, 'bare', 'mean'))} mean and ${signedMs(addOf(one, 'bare', 'p99'))} p99 in this run; at one connection the gateway's CPU per request is its latency.`,
      );
    }
    if (streamCpu > 1.3) {
      notes.push(`**Streaming CPU (${ratio(streamCpu)}× the bare proxy per stream, target 1.3×).** The gateway spends ${us(med(stream50, (t) => t.cpu.gateway.proxy))} per stream, the bare proxy ${us(med(stream50, (t) => t.cpu.bare.proxy))}.`);
    }
    return {
      title: 'Gateway overhead',
      notes,
      markdown,
      targets: [
        {
          name: 'req/s through the gateway ÷ bare proxy, 50 connections, non-streaming',
          value: `${ratio(vsBare50)}× (gateway ${ratio(ratioOf(fifty, 'gateway'))}×, bare proxy ${ratio(ratioOf(fifty, 'bare'))}× of direct)`,
          target: '≥ 0.80×',
          met: vsBare50 >= 0.8,
        },
        {
          name: 'added mean latency over the bare proxy\'s, 1 connection',
          value: `${signedMs(meanOver)} (gateway ${signedMs(addOf(one, 'gateway', 'mean'))}, bare proxy ${signedMs(addOf(one, 'bare', 'mean'))} over direct)`,
          target: '≤ +0.05 ms',
          met: meanOver <= 0.05,
        },
        {
          name: 'added p99 over the bare proxy\'s, 1 connection',
          value: `${signedMs(p99Over)} (gateway ${signedMs(addOf(one, 'gateway', 'p99'))}, bare proxy ${signedMs(addOf(one, 'bare', 'p99'))} over direct)`,
          target: '≤ +0.3 ms',
          met: p99Over <= 0.3,
        },
        {
          name: `CPU per stream (${STREAM_CHUNKS} chunks) ÷ bare proxy, 50 connections`,
          value: `${ratio(streamCpu)}× (${us(med(stream50, (t) => t.cpu.gateway.proxy))} vs ${us(med(stream50, (t) => t.cpu.bare.proxy))})`,
          target: '≤ 1.30×',
          met: streamCpu <= 1.3,
        },
        {
          name: 'added time to first token, p50',
          value: `${signedMs(addTtft)} (bare proxy ${signedMs(med(ttft, (t) => t.bare.p50 - t.direct.p50))})`,
          target: '≤ +0.5 ms',
          met: addTtft <= 0.5,
        },
      ],
      data: { one, fifty, stream50, floors, layered, ttft, vsBare50, meanOver, p99Over, streamCpu, addTtft, gwCpu, bareCpu, loadgen },
    };
  } finally {
    await gw?.stop();
    await bare?.stop();
    await helloNode?.stop();
    await helloFastify?.stop();
    await json?.stop();
    await core?.stop();
    await up.stop();
  }
}
