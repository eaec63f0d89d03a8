import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { multistream, pino } from 'pino';
import { createLogger, unredactedChild } from '../../src/server/logger.js';
import { isPlain, writeRequestLine, type RequestLineFields } from '../../src/server/request-line.js';

function sink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines };
}

const withoutTime = (line: string) => line.replace(/,"time":\d+/, '');

const base: RequestLineFields = { reqId: 'r-1', key: 'team-a', model: 'gpt-x', deployment: 'up:prov', attempts: 1, status: 200, latency_ms: 3, stream: false };

describe('the per-request line serialized by hand is the line pino writes', () => {
  const cases: Array<[string, RequestLineFields, 30 | 40, string]> = [
    ['plain', base, 30, 'chat completion'],
    ['nulls, tokens, error code', { ...base, key: null, deployment: null, tokens: { prompt: 9, completion: 4, total: 13 }, error: 'rate_limit_exceeded', status: 429 }, 30, 'chat completion'],
    ['numeric error, warn', { ...base, error: 502, status: 502, attempts: 3, stream: true }, 40, 'chat completion failed'],
    ['error null', { ...base, error: null }, 30, 'x'],
    ['odd token counts', { ...base, tokens: { prompt: NaN, completion: undefined as unknown as number, total: 1 } }, 30, 'x'],
    ['strings that need escaping', { ...base, model: 'a"b\\c\nd\u0001', key: 'ключ 🔑', deployment: 'x'.repeat(150) }, 30, 'quote " in msg'],
    ['non-finite numbers', { ...base, latency_ms: Infinity, attempts: NaN }, 30, 'x'],
  ];
  for (const [name, fields, level, msg] of cases) {
    test(name, () => {
      const a = sink();
      const b = sink();
      const fast = unredactedChild(createLogger('info', a.stream));
      const slow = unredactedChild(createLogger('info', b.stream));
      assert.ok(isPlain(fast));
      writeRequestLine(fast, level, fields, msg);
      (level === 40 ? slow.warn : slow.info).call(slow, { ...fields }, msg);
      assert.equal(a.lines.length, 1);
      assert.equal(withoutTime(a.lines[0]!), withoutTime(b.lines[0]!));
      assert.match(a.lines[0]!, /^\{"level":\d+,"time":\d+,/);
      JSON.parse(a.lines[0]!);
    });
  }

  test('nothing is written below the logger level', () => {
    const a = sink();
    const log = createLogger('warn', a.stream);
    writeRequestLine(log, 30, base, 'x');
    assert.equal(a.lines.length, 0);
    writeRequestLine(log, 40, base, 'x');
    assert.equal(a.lines.length, 1);
  });

  test('only loggers made by createLogger (and their unredacted children) are plain', () => {
    assert.equal(isPlain(pino({ level: 'info' }, sink().stream)), false);
    assert.equal(isPlain(unredactedChild(pino({ level: 'info' }, sink().stream))), false);
    assert.equal(isPlain(createLogger('info', multistream([{ stream: sink().stream }]) as unknown as NodeJS.WritableStream)), false);
  });
});
