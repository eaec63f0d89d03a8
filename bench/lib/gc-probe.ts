/**
 * Allocation and GC pauses of a process over a window, from V8's own GC profiler (`v8.GCProfiler`):
 * bytes allocated = what the heap grew by between collections (each collection's used-heap before it,
 * minus the used-heap after the previous one), plus the growth since the last; pauses = each
 * collection's cost. Used inside the benchmark children (IPC `gc-start` / `gc-stop`).
 */
import type { EventLoopUtilization } from 'node:perf_hooks';
import { GCProfiler, getHeapStatistics } from 'node:v8';

export interface GcReport {
  /** Window length. */
  ms: number;
  allocatedBytes: number;
  scavenges: number;
  scavengeMaxMs: number;
  scavengeTotalMs: number;
  /** Scavenges that paused longer than 1 ms. */
  scavengesOver1ms: number;
  /** Mark-compact (and incremental marking steps). */
  otherGcs: number;
  otherMaxMs: number;
  /** Share of the window the main thread's event loop was busy (0..1): near 1, that thread is the bottleneck. */
  eventLoopUtilization: number;
}

interface Stat {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number } };
  afterGC: { heapStatistics: { usedHeapSize: number } };
}

export class GcProbe {
  private profiler: GCProfiler | undefined;
  private startUsed = 0;
  private startAt = 0;
  private startElu: EventLoopUtilization | undefined;

  start(): void {
    this.profiler?.stop();
    this.profiler = new GCProfiler();
    this.startAt = performance.now();
    this.startUsed = getHeapStatistics().used_heap_size;
    this.startElu = performance.eventLoopUtilization();
    this.profiler.start();
  }

  stop(): GcReport {
    const p = this.profiler;
    if (p === undefined) throw new Error('gc probe not started');
    const endUsed = getHeapStatistics().used_heap_size;
    const stats = (p.stop()?.statistics ?? []) as unknown as Stat[];
    this.profiler = undefined;
    const r: GcReport = {
      ms: performance.now() - this.startAt,
      allocatedBytes: 0,
      scavenges: 0,
      scavengeMaxMs: 0,
      scavengeTotalMs: 0,
      scavengesOver1ms: 0,
      otherGcs: 0,
      otherMaxMs: 0,
      eventLoopUtilization: performance.eventLoopUtilization(this.startElu).utilization,
    };
    let prev = this.startUsed;
    for (const s of stats) {
      r.allocatedBytes += Math.max(0, s.beforeGC.heapStatistics.usedHeapSize - prev);
      prev = s.afterGC.heapStatistics.usedHeapSize;
      const ms = s.cost / 1000; // µs
      if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep') {
        r.scavenges++;
        r.scavengeTotalMs += ms;
        if (ms > r.scavengeMaxMs) r.scavengeMaxMs = ms;
        if (ms > 1) r.scavengesOver1ms++;
      } else {
        r.otherGcs++;
        if (ms > r.otherMaxMs) r.otherMaxMs = ms;
      }
    }
    r.allocatedBytes += Math.max(0, endUsed - prev);
    return r;
  }
}
