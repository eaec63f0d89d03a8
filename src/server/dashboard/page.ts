import { CHARTS_JS } from './charts.js';
import { REPLICAS_PANEL_CSS, REPLICAS_PANEL_HTML, REPLICAS_PANEL_JS } from './replicas-panel.js';
import { DASHBOARD_JS, DASHBOARD_START_JS } from './script.js';
import { DASHBOARD_CSS } from './styles.js';
import { USAGE_PANEL_CSS, USAGE_PANEL_HTML, USAGE_PANEL_JS } from './usage-panel.js';

/**
 * `GET /dashboard`: one self-contained page (inline CSS and JS; no CDN, no build step, no request
 * to anything but this gateway). Kept as TS string modules so it ships inside `dist/` with no copy
 * step and is found wherever the package runs: the stylesheet (`styles.ts`), the SVG line charts
 * (`charts.ts`), the page's behaviour (`script.ts`) and two panels with their own markup, style and
 * script (`usage-panel.ts`, `replicas-panel.ts`).
 *
 * Header: requests and error rate of the history window, the error rate of each model, the pools'
 * totals. Then charts over time (requests/s by status, p50/p95 latency and time to first token,
 * errors/s by class, tokens/s) for the whole gateway, a model or a deployment; the models; every
 * pool with its adapters; per model and deployment its circuit, requests, errors and latency;
 * usage per key and model from the ledger; the replicas of a cluster.
 */
const BODY = String.raw`
<header>
  <div>
    <h1>adapterpool</h1>
    <div class="sub">updated <span id="updated">never</span> &middot; every <span id="interval">2</span>&nbsp;s</div>
  </div>
  <div class="summary" id="summary"></div>
  <div class="controls">
    <button id="btn-health" class="primary" type="button" title="POST /v1/pool/health-check (asks for the admin key)">Health check</button>
    <button id="btn-cleanup" type="button" title="POST /v1/pool/cleanup (asks for the admin key)">Cleanup</button>
    <button id="btn-pause" type="button">Pause</button>
  </div>
</header>
<main>
  <div id="auth" class="banner hidden">
    This gateway needs an API key to read pool data. <b id="auth-refused"></b>
    <form class="auth" id="auth-form">
      <input id="auth-key" type="password" autocomplete="off" placeholder="API or admin key">
      <button class="primary" type="submit">Use key</button>
    </form>
  </div>
  <div id="error" class="banner error hidden"></div>
  <div id="action-result" class="banner hidden" role="status" aria-live="polite"></div>
  <h2>Traffic <select id="subject" aria-label="Charts of"><option value="all">whole gateway</option></select> <span class="muted" id="chart-window"></span></h2>
  <div class="charts">
    <section class="card chart" id="chart-requests"><h3 title="Requests answered per second, by HTTP status (429 apart from other 4xx: an upstream or deployment limit the client did not cause; a client key over its own limit is with the 4xx)">Requests / s by status</h3><svg></svg></section>
    <section class="card chart" id="chart-latency"><h3 title="End-to-end latency of requests (arrival to last byte), median and 95th percentile; TTFT: time to the first token of streams">Latency p50 / p95 and time to first token</h3><svg></svg></section>
    <section class="card chart" id="chart-errors"><h3 title="Errors per second by class: the upstream's error class, or the gateway's own (no_deployment, pool, internal)">Errors / s by class</h3><svg></svg><div class="legend"></div><p class="note" id="errors-note"></p></section>
    <section class="card chart" id="chart-tokens"><h3 title="Prompt and completion tokens the upstreams reported, per second">Tokens / s</h3><svg></svg></section>
  </div>
  <h2>Models</h2>
  <div class="tablecard"><table id="models">
    <thead><tr>
      <th>Model</th><th>Strategy</th>
      <th class="num" title="client requests for this model in the chart window, every outcome">Requests</th>
      <th class="num" title="of those, answered with a 2xx status">2xx</th>
      <th class="num" title="of those, answered 5xx or 429: failures that reached the client (a key over its own limit is not one)">Failed</th>
      <th class="num" title="failed / requests in the window">Error rate</th>
      <th class="num" title="end-to-end latency in the window: median / 95th percentile">p50 / p95</th>
      <th class="num" title="streams: time to first token, median / 95th percentile">TTFT p50 / p95</th>
      <th class="num" title="prompt + completion tokens in the window">Tokens</th>
      <th class="num" title="client requests since the gateway started">Since start</th>
      <th class="num" title="failed requests since the gateway started">Failed since start</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
  <h2>Pools <span class="muted" id="pool-count"></span></h2>
  <div class="grid" id="pools"></div>
  <h2>Deployments</h2>
  <div class="tablecard"><table id="deployments">
    <thead><tr>
      <th>Model</th><th>Deployment</th>
      <th title="the router's circuit breaker for this deployment: closed = in use; open = skipped after failures until its cooldown ends; half-open = one probe request decides">Circuit</th>
      <th class="num" title="client requests of this model that this deployment answered, or that failed on it last (since start)">Requests</th>
      <th class="num" title="of those, answered with a 2xx status">2xx</th>
      <th class="num" title="of those, answered 5xx or 429 (a key over its own limit is not counted)">Failed</th>
      <th class="num" title="upstream calls that finished (answered or failed), retries and failed attempts included; calls abandoned by their client are left out (shared by every model using this deployment)">Calls</th>
      <th class="num" title="successful upstream calls / finished calls of the pool's current adapters">Success rate</th>
      <th class="num" title="end-to-end latency of the requests this deployment served in the chart window: median / 95th percentile">p50 / p95</th>
      <th class="num" title="the router's moving average of this deployment's latency (what lowest_latency routes by)">EWMA latency</th>
      <th class="num" title="calls to this deployment in progress">In flight</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
`;

export const DASHBOARD_HTML =
  '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
  '<title>adapterpool dashboard</title>\n<style>' +
  DASHBOARD_CSS +
  USAGE_PANEL_CSS +
  REPLICAS_PANEL_CSS +
  '</style>\n</head>\n<body>' +
  BODY +
  USAGE_PANEL_HTML +
  REPLICAS_PANEL_HTML +
  '</main>\n' +
  "<script>\n(function () {\n  'use strict';" +
  CHARTS_JS +
  DASHBOARD_JS +
  USAGE_PANEL_JS +
  REPLICAS_PANEL_JS +
  DASHBOARD_START_JS +
  '})();\n</script>\n</body>\n</html>\n';
