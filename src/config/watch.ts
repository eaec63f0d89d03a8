import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface ConfigWatcherOptions {
  file: string;
  /** Quiet time after the last event before the file is read (editors write in several steps). */
  debounceMs: number;
  /** The file's content changed (by its SHA-256): reload it. */
  onChange: () => void;
  /** Watching or reading failed (logged by the caller; the watcher keeps going). */
  onError?: (err: unknown) => void;
}

/**
 * A directory that never goes quiet (the file itself rewritten again and again) holds a change back
 * at most this many debounces after its first event: the timer is then left to fire.
 */
const MAX_WAIT_DEBOUNCES = 10;

/**
 * Watches the DIRECTORY of the config file, not the file: editors save by writing a new file and
 * renaming it over the old one, and Kubernetes ConfigMaps swap a `..data` symlink, and either way a
 * watch on the old file's inode would go quiet. An event for the file's own name (a write, or a
 * rename onto it) or for a `..`-name (the ConfigMap's) re-arms a debounce timer; other files of the
 * directory (the gateway's own log or ledger, a sidecar's) are not the config, and their writes must
 * not keep the timer from firing. When it fires, the file is read and hashed, and only a new hash
 * calls `onChange`, so a `touch` (or a write of the same bytes) does nothing.
 */
export class ConfigWatcher {
  /** Quiet time before the file is read; may change while watching (a reloaded `server.reloadDebounce`). */
  debounceMs: number;
  private readonly o: ConfigWatcherOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** When the pending timer was first armed (the burst's first event). */
  private burstStartedAt = 0;
  private hash: string | undefined;
  private closed = false;

  constructor(opts: ConfigWatcherOptions) {
    this.o = opts;
    this.debounceMs = opts.debounceMs;
  }

  /** Remember the current content, then watch. */
  async start(): Promise<void> {
    this.hash = await this.read();
    if (this.closed) return;
    const name = basename(this.o.file);
    this.watcher = watch(dirname(this.o.file), { persistent: false }, (_event, file) => {
      // No name: the platform did not say which file; take it as ours.
      if (file === null || file === name || file.startsWith('..')) this.arm();
    });
    this.watcher.on('error', (err) => this.o.onError?.(err));
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private arm(): void {
    if (this.closed) return;
    const now = Date.now();
    if (this.timer === undefined) this.burstStartedAt = now;
    else if (now - this.burstStartedAt >= MAX_WAIT_DEBOUNCES * this.debounceMs) return;
    else clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.check();
    }, this.debounceMs);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    let hash: string | undefined;
    try {
      hash = await this.read();
    } catch (err) {
      // Mid-replace (the file is briefly absent) or deleted: wait for the next event.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.o.onError?.(err);
      return;
    }
    if (this.closed || hash === this.hash) return;
    this.hash = hash;
    this.o.onChange();
  }

  private async read(): Promise<string> {
    return createHash('sha256').update(await readFile(this.o.file)).digest('hex');
  }
}
