import type { ChatAdapter, ChatCompletionRequest } from '../providers/types.js';
import type { PoolLogger } from '../pool/types.js';
import type { RouterPool } from './pool-port.js';
import {
  DEFAULT_ROUTING_CONFIG,
  type Deployment,
  type ExecuteOptions,
  type ExecuteResult,
  type RoutingConfig,
  type StrategyName,
} from './types.js';

/** Every deployment of a model is down: answer 503 with Retry-After at once. */
export class NoDeploymentAvailableError extends Error {
  override readonly name = 'NoDeploymentAvailableError';
  readonly status = 503;
  readonly retryAfterMs: number;
  readonly model: string;
  constructor(model: string, retryAfterMs: number, message?: string) {
    super(message ?? `no deployment of ${model} is available; retry after ${Math.ceil(retryAfterMs / 1000)} s`);
    this.model = model;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface RouterOptions {
  pool: RouterPool<ChatAdapter>;
  routing?: Partial<RoutingConfig>;
  logger?: PoolLogger;
}

/** First cut (issue #5): first deployment, acquire, call, release. Strategies and retries follow. */
export class Router {
  private readonly pool: RouterPool<ChatAdapter>;
  private readonly config: RoutingConfig;

  constructor(opts: RouterOptions) {
    this.pool = opts.pool;
    this.config = { ...DEFAULT_ROUTING_CONFIG, ...opts.routing };
  }

  async executeStrategy(
    request: ChatCompletionRequest,
    modelProviders: readonly Deployment[],
    _strategy: StrategyName,
    _config?: Partial<RoutingConfig>,
    options?: ExecuteOptions,
  ): Promise<ExecuteResult> {
    const d = modelProviders[0];
    if (d === undefined) throw new NoDeploymentAvailableError(request.model, this.config.circuitCooldownMs);
    const signal = options?.signal;
    const adapter = await this.pool.getAdapter(d.model, d.provider, signal ? { signal } : undefined);
    if (request.stream === true) {
      let stream;
      try {
        stream = await adapter.chatCompletionStream(request, signal ? { signal } : undefined);
      } catch (err) {
        await this.pool.releaseAdapter(adapter, d.model, d.provider);
        throw err;
      }
      return { kind: 'stream', stream, deployment: d, attempts: 1 };
    }
    try {
      const completion = await adapter.chatCompletion(request, signal ? { signal } : undefined);
      return { kind: 'completion', completion, deployment: d, attempts: 1 };
    } finally {
      await this.pool.releaseAdapter(adapter, d.model, d.provider);
    }
  }

  close(): void {}
}
