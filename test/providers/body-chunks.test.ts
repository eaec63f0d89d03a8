import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { BodyChunks } from '../../src/providers/body-chunks.js';

async function collect(it: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of it) out.push(b.toString());
  return out;
}

describe('BodyChunks: a body read chunk by chunk as Node\'s async iterator reads it', () => {
  it('chunks in order, whether they arrive before or while the consumer waits, then done', async () => {
    const body = new Readable({ read() {} });
    body.push('a');
    body.push('b');
    const chunks = new BodyChunks(body);
    setTimeout(() => {
      body.push('c');
      body.push(null);
    }, 5);
    assert.equal((await collect(chunks)).join(''), 'abc');
    assert.deepEqual(await chunks.next(), { value: undefined, done: true });
  });

  it('the body\'s error rejects after what came before it', async () => {
    const body = new Readable({ read() {} });
    const chunks = new BodyChunks(body);
    body.push('x');
    setTimeout(() => body.destroy(new Error('boom')), 5);
    assert.equal(String((await chunks.next()).value), 'x');
    await assert.rejects(chunks.next(), /boom/);
  });

  it('a body closed without its end is a premature close', async () => {
    const body = new Readable({ read() {} });
    const chunks = new BodyChunks(body);
    setTimeout(() => body.destroy(), 5);
    await assert.rejects(chunks.next(), (err: { code?: string }) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
  });

  it('return() destroys the body', async () => {
    const body = new Readable({ read() {} });
    const chunks = new BodyChunks(body);
    body.push('x');
    await chunks.next();
    await chunks.return();
    assert.equal(body.destroyed, true);
    assert.deepEqual(await chunks.next(), { value: undefined, done: true });
  });

  it('a paused backlog resumes as it is taken', async () => {
    let reads = 0;
    const body = new Readable({
      highWaterMark: 4,
      read() {
        reads++;
        if (reads <= 50) this.push(`${reads % 10}`);
        else this.push(null);
      },
    });
    const out = await collect(new BodyChunks(body));
    assert.equal(out.join('').length, 50);
  });
});
