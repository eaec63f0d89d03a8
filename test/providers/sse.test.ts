import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseParser, sseFrame, type SseComment, type SseEvent } from '../../src/providers/index.js';

function parse(pieces: string[]): Array<SseEvent | SseComment> {
  const p = new SseParser();
  const out: Array<SseEvent | SseComment> = [];
  for (const piece of pieces) p.push(piece, out);
  p.end(out);
  return out;
}

describe('SseParser', () => {
  it('handles every line ending, split anywhere', () => {
    const text = 'data: a\r\n\r\ndata: b\n\ndata: c\r\rdata: d\r\n\r\n';
    const whole = parse([text]);
    assert.deepEqual(whole, ['a', 'b', 'c', 'd'].map((data) => ({ event: undefined, data })));
    for (let i = 1; i < text.length; i++) assert.deepEqual(parse([text.slice(0, i), text.slice(i)]), whole, `split at ${i}`);
    assert.deepEqual(parse([...text]), whole, 'one character at a time');
  });

  it('joins multi-line data, reads event names, keeps comments, ignores id/retry, "data:" without a space', () => {
    assert.deepEqual(parse([': ping\n\nevent: message_delta\nid: 7\nretry: 100\ndata: {"a":\ndata:1}\n\ndata:x\n\n']), [
      { comment: ' ping' },
      { event: 'message_delta', data: '{"a":\n1}' },
      { event: undefined, data: 'x' },
    ]);
  });

  it('dispatches an unterminated last event at the end of input', () => {
    assert.deepEqual(parse(['data: [DONE]']), [{ event: undefined, data: '[DONE]' }]);
  });

  it('sseFrame writes one data line per payload line', () => {
    assert.equal(sseFrame('{"a":1}'), 'data: {"a":1}\n\n');
    assert.equal(sseFrame('a\nb'), 'data: a\ndata: b\n\n');
  });
});
