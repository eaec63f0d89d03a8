import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';

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
 * Watches the DIRECTORY of the config file, not the file: editors save by writing a new file and
 * renaming it over the old one, and Kubernetes ConfigMaps swap a `..data` symlink, and either way a
 * watch on the old file's inode would go quiet. Any event in the directory re-arms a debounce timer;
 * when it fires, the file is read and hashed, and only a new hash calls `onChange`, so a `touch`
 * (or a write of the same bytes) does nothing.
 */
export class ConfigWatcher {
  /** Quiet time before the file is read; may change while watching (a reloaded `server.reloadDebounce`). */
  debounceMs: number;
  private readonly o: ConfigWatcherOptions;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
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
    this.watcher = watch(dirname(this.o.file), { persistent: false }, () => this.arm());
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
    if (this.timer !== undefined) clearTimeout(this.timer);
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
