import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { run, type Run } from './helpers.js';

function checkConfig(file: string): Promise<Run> {
  return run(['check-config', file]);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'adapterpool-endpoints-'));
});
after(() => rm(dir, { recursive: true, force: true }));

describe('adapterpool check-config: embeddings models', () => {
  test('an embeddings model routed to anthropic: exit 1, file:line of that deployment', async () => {
    const file = join(dir, 'emb-anthropic.yaml');
    await writeFile(
      file,
      `providers:
  oa: { type: openai, apiKey: k }
  claude: { type: anthropic, apiKey: k }
models:
  embedder:
    endpoints: [embeddings]
    providers:
      - { provider: oa, model: text-embedding-3-small }
      - { provider: claude, model: claude-sonnet-4-5 }
`,
    );
    const r = await checkConfig(file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:9:\\d+: models\\.embedder\\.providers\\[1\\]\\.provider: .*has no embeddings endpoint`));
  });

  test('endpoints and mock.dimensions are printed resolved', async () => {
    const file = join(dir, 'emb-ok.yaml');
    await writeFile(file, `providers:\n  m: { type: mock, mock: { dimensions: 32 } }\nmodels:\n  embedder: { endpoints: [embeddings], providers: [{ provider: m }] }\n  chat: { providers: [{ provider: m }] }\n`);
    const r = await checkConfig(file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /dimensions: 32/);
    assert.match(r.stdout, /endpoints:\s*\n\s*- embeddings/);
    assert.match(r.stdout, /endpoints:\s*\n\s*- chat/);
  });
});
