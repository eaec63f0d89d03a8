/**
 * CPU profile of the gateway under load: the gateway child runs with `--cpu-prof`, autocannon drives
 * 50 connections at it, then it exits normally so V8 writes the profile, which is summarized here.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { WORK_DIR, startGateway, startUpstream } from './lib/children.js';
import { CHAT_BODY, STREAM_BODY, runLoad } from './lib/load.js';
import { log, rps, type Section } from './lib/report.js';
import { profileMarkdown, summarizeProfile, type ProfileSummary } from './cpuprofile-summary.js';

export interface ProfileOptions {
  seconds: number;
}

async function profileOne(name: string, body: string, seconds: number): Promise<{ file: string; summary: ProfileSummary; rps: number }> {
  const dir = join(WORK_DIR, `prof-${name}`);
  const up = await startUpstream();
  try {
    const gw = await startGateway({ upstream: up, maxPoolSize: 50, execArgv: ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=200'] });
    let r;
    let window: { fromUs: number; toUs: number };
    try {
      await runLoad({ url: gw.chatUrl, connections: 50, durationS: 2, body });
      const from = await gw.call<{ us: number }>('mark');
      r = await runLoad({ url: gw.chatUrl, connections: 50, durationS: seconds, body });
      const to = await gw.call<{ us: number }>('mark');
      window = { fromUs: from.us, toUs: to.us };
    } finally {
      await gw.stop(30_000);
    }
    const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
    if (files.length === 0) throw new Error(`no .cpuprofile written in ${dir}`);
    const file = join(dir, files[0]!);
    return { file, summary: summarizeProfile(file, 30, window), rps: r.rps };
  } finally {
    await up.stop();
  }
}

export async function runProfile(o: ProfileOptions): Promise<Section> {
  log('profile: non-streaming');
  const plain = await profileOne('chat', CHAT_BODY, o.seconds);
  log('profile: streaming');
  const stream = await profileOne('stream', STREAM_BODY, o.seconds);
  const markdown = [
    `The gateway child run with \`--cpu-prof --cpu-prof-interval=200\` (µs) under autocannon at 50 connections for ${o.seconds} s ` +
      `(${rps(plain.rps)} req/s non-streaming, ${rps(stream.rps)} req/s streaming, slower than unprofiled); only the samples of that window (after a 2 s warm-up, no start-up) are counted. Profiles: \`${plain.file}\`, \`${stream.file}\`; ` +
      'summarize any profile with `node dist/bench/cpuprofile-summary.js FILE`.',
    '',
    '#### Non-streaming',
    '',
    profileMarkdown(plain.summary),
    '',
    '#### Streaming',
    '',
    profileMarkdown(stream.summary, 20),
  ].join('\n');
  return {
    title: 'Hot-path profile',
    markdown,
    targets: [],
    data: { plain: { file: plain.file, rps: plain.rps, summary: plain.summary }, stream: { file: stream.file, rps: stream.rps, summary: stream.summary } },
  };
}
