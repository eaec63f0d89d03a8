import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const SRC = fileURLToPath(new URL('../../../src/', import.meta.url));

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** `log.warn({ ... }, msg)`, `this._log.info?.({ ... }, msg)`, `logger?.error?.(`: a logger call with an object first. */
const CALL_RE = /\b(?:log|logger|_log)\??\.(?:fatal|error|warn|info|debug|trace)\??\.?\(\s*\{/g;

/** The text from `start` (an opening bracket) to its matching close, skipping strings. */
function balanced(text: string, start: number): string {
  const open = text[start]!;
  const close = open === '(' ? ')' : '}';
  let depth = 0;
  let quote: string | undefined;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') quote = c;
    else if (c === open) depth++;
    else if (c === close && --depth === 0) return text.slice(start, i + 1);
  }
  return text.slice(start);
}

describe('log lines are searchable (issue 15)', () => {
  test('a log line with a Chinese message and no event field (the dashboard, usage and pool endpoints\' failures): every logger call has an English message or an event', async () => {
    const bad: string[] = [];
    let calls = 0;
    for (const file of await sources(SRC)) {
      const text = await readFile(file, 'utf8');
      for (const m of text.matchAll(CALL_RE)) {
        calls++;
        const args = balanced(text, m.index + m[0].lastIndexOf('(')).slice(1, -1);
        const fields = balanced(args, args.indexOf('{'));
        const msg = args.slice(args.indexOf(fields) + fields.length).replace(/^\s*,\s*/, '').trim();
        const hasEvent = /(^|[{,\s])event\s*[:,}]/.test(fields);
        // An English message: a string or template literal with no non-ASCII character in its fixed text.
        const english = /^(['"`])/.test(msg) && !/[\u0080-\uffff]/.test(msg.replace(/\$\{[^}]*\}/g, ''));
        if (!hasEvent && !english) bad.push(`${relative(SRC, file)}:${text.slice(0, m.index).split('\n').length}: ${m[0]}… ${msg.slice(0, 80)}`);
      }
    }
    assert.ok(calls >= 40, `found only ${calls} logger calls: the pattern no longer matches the code`);
    assert.deepEqual(bad, [], `logger calls with neither an English message nor an event field:\n${bad.join('\n')}`);
  });
});
