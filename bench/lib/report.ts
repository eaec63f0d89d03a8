/** What every benchmark section hands back to `run-all`, and the formatting they share. */

export interface Target {
  /** What is measured, e.g. "req/s through the gateway ÷ direct, 50 connections". */
  name: string;
  /** The measured figure, formatted. */
  value: string;
  /** The target, formatted, e.g. "≥ 0.30". */
  target: string;
  met: boolean;
}

export interface Section {
  title: string;
  /** Markdown body: tables and notes. */
  markdown: string;
  targets: Target[];
  /** Raw figures (kept in memory for run-all). */
  data: unknown;
  /** Closing notes: what stands in the way of a target that was not met, from this run's figures. */
  notes?: string[];
}

export const ms = (v: number, digits = 3): string => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a');
export const signedMs = (v: number, digits = 3): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(digits)} ms` : 'n/a');
export const rps = (v: number): string => (Number.isFinite(v) ? `${Math.round(v).toLocaleString('en-US')}` : 'n/a');
export const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
export const signedMb = (bytes: number): string => `${bytes >= 0 ? '+' : '−'}${(Math.abs(bytes) / 1024 / 1024).toFixed(1)} MB`;
export const ratio = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : 'n/a');

export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

export function log(msg: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
