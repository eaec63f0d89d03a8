/**
 * The JSON proxy: bench/bare-proxy.ts plus `JSON.parse` of the body, the model replaced, `JSON.stringify`
 * for the upstream, and the reply read whole as text (no validation, routing, pool, logs, metrics, ledger
 * or framework) — what reading the request costs any gateway that routes by model.
 */
process.env.BENCH_PARSE_JSON = '1';
await import('./bare-proxy.js');
