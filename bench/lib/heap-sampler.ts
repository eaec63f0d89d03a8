/**
 * Where a process allocates: V8's sampling heap profiler through the inspector, counting objects that
 * were already collected too (the garbage of a request is what we want to see), summarized by the
 * function that allocated (self) and by the stack's frames (total).
 */
import { Session } from 'node:inspector';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}

export interface AllocationRow {
  fn: string;
  where: string;
  selfBytes: number;
  totalBytes: number;
}

export class HeapSampler {
  private session: Session | undefined;

  private post<T>(method: string, params?: Record<string, unknown>): Promise<T> {
    const s = this.session!;
    return new Promise((resolve, reject) => s.post(method, params ?? {}, (err, r) => (err ? reject(err) : resolve(r as T))));
  }

  async start(intervalBytes = 1024): Promise<void> {
    this.session ??= new Session();
    this.session.connect();
    await this.post('HeapProfiler.enable');
    await this.post('HeapProfiler.startSampling', { samplingInterval: intervalBytes, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }

  /** Rows by self bytes, largest first. */
  async stop(): Promise<AllocationRow[]> {
    const { profile } = await this.post<{ profile: { head: Node } }>('HeapProfiler.stopSampling');
    this.session?.disconnect();
    this.session = undefined;
    const rows = new Map<string, AllocationRow>();
    const walk = (n: Node, stack: Set<string>): number => {
      const f = n.callFrame;
      const where = f.url ? `${f.url.replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}` : '';
      const key = `${f.functionName || '(anonymous)'} ${where}`;
      let total = n.selfSize;
      const inner = new Set(stack).add(key);
      for (const c of n.children) total += walk(c, inner);
      let r = rows.get(key);
      if (r === undefined) rows.set(key, (r = { fn: f.functionName || '(anonymous)', where, selfBytes: 0, totalBytes: 0 }));
      r.selfBytes += n.selfSize;
      if (!stack.has(key)) r.totalBytes += total;
      return total;
    };
    walk(profile.head, new Set());
    return [...rows.values()].sort((a, b) => b.selfBytes - a.selfBytes);
  }
}
