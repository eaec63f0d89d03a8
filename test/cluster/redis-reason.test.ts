import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { startGateway } from '../server/helpers.js';
import { freePort, OwnRedis, sleep, uniquePrefix } from './helpers.js';

/**
 * Bug: a replica with a wrong Redis password logged only "Redis is unreachable since start", the
 * same line as a network outage, so a misconfiguration (with that replica counting itself alone
 * against every limit) looked like a transient fault. The line now carries the client's reason.
 */

const config = (redis: string) => `
logging: { level: info }
usage: { enabled: false }
cluster: { redis: "${redis}", prefix: "${uniquePrefix()}", connectTimeout: 300ms }
providers:
  mock: { type: mock }
models:
  m: { providers: [{ provider: mock }] }
`;

async function downLine(logs: string[]): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i++) {
    const line = logs.find((l) => l.includes('"event":"cluster_redis_down"'));
    if (line !== undefined) return JSON.parse(line) as Record<string, unknown>;
    await sleep(20);
  }
  throw new Error('no cluster_redis_down line');
}

describe('cluster: why Redis is down', () => {
  let redis: OwnRedis;
  before(async () => {
    redis = await OwnRedis.start();
    const admin = new Redis(redis.url);
    await admin.config('SET', 'requirepass', 'right-pw-8761');
    admin.disconnect();
  });
  after(() => redis.stop());

  test('a wrong password read like a network outage: cluster_redis_down carries WRONGPASS, and never the password', async () => {
    const g = await startGateway(config(`redis://:wrong-pw-4410@127.0.0.1:${redis.port}`));
    try {
      const line = await downLine(g.logs);
      assert.equal(line.since_start, true);
      assert.match(String(line.reason), /WRONGPASS|NOAUTH|invalid password/i);
      assert.ok(!g.logs.join('').includes('wrong-pw-4410'), 'the password is not logged');
    } finally {
      await g.close();
    }
  });

  test('regression: a wrong password with a database (/7) was logged as NOAUTH (no password given), the error of the SELECT after the refused AUTH; the line says WRONGPASS', async () => {
    const g = await startGateway(config(`redis://:wrong-pw-5521@127.0.0.1:${redis.port}/7`));
    try {
      await sleep(500); // a few reconnections: each refused AUTH is followed by NOAUTH errors
      const lines = g.logs.filter((l) => l.includes('"event":"cluster_redis_down"')).map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.length >= 1);
      for (const line of lines) assert.match(String(line.reason), /^WRONGPASS/);
    } finally {
      await g.close();
    }
  });

  test('a database index Redis does not have (/99) silently used db 0 and joined whatever fleet is there: the link stays down, saying why', async () => {
    const admin = new Redis(redis.url, { password: 'right-pw-8761' });
    const prefix = uniquePrefix();
    try {
      const g = await startGateway(config(`redis://:right-pw-8761@127.0.0.1:${redis.port}/99`).replace(/prefix: "[^"]+"/, `prefix: "${prefix}"`));
      try {
        assert.match(String((await downLine(g.logs)).reason), /DB index is out of range/);
        await sleep(700);
        const status = (await (await fetch(`${g.url}/v1/pool/status`)).json()) as { data: { mode: string } };
        assert.equal(status.data.mode, 'local');
        assert.deepEqual(await admin.keys(`${prefix}*`), [], 'nothing written to db 0');
      } finally {
        await g.close();
      }
      // A database it has (/1) works.
      const ok = await startGateway(config(`redis://:right-pw-8761@127.0.0.1:${redis.port}/1`));
      try {
        for (let i = 0; i < 50 && !ok.logs.some((l) => l.includes('"event":"cluster_redis_up"')); i++) await sleep(20);
        assert.ok(ok.logs.some((l) => l.includes('"event":"cluster_redis_up"')));
      } finally {
        await ok.close();
      }
    } finally {
      admin.disconnect();
    }
  });

  test('a closed port says so', async () => {
    const g = await startGateway(config(`redis://127.0.0.1:${await freePort()}`));
    try {
      assert.match(String((await downLine(g.logs)).reason), /ECONNREFUSED/);
    } finally {
      await g.close();
    }
  });
});
