/**
 * `GET /dashboard`: one self-contained page (inline CSS and JS; no CDN, no build step, no request
 * to anything but this gateway). Kept as a TS string module so it ships inside `dist/` with no copy
 * step and is found wherever the package runs.
 *
 * It polls `GET /v1/pool/status`, `GET /v1/pool/stats?detail=true` and `GET /v1/pool/deployments`
 * every 2 s (with the read key, asked in the page when the gateway requires one) and renders every
 * pool: utilization and health, adapters by state, the adapters themselves, and per deployment its
 * circuit, requests, success rate and latency. The Health check / Cleanup buttons ask for the admin
 * key (window.prompt) and send it as `Authorization: Bearer`.
 *
 * The text below must contain no backtick and no dollar-brace (it is a String.raw template).
 */
export const DASHBOARD_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>adapterpool dashboard</title>
<style>
  :root {
    --bg: #f4f6f9; --card: #fff; --ink: #1c2430; --muted: #5b6675; --line: #dde3ea;
    --ok: #1f9d55; --warn: #c77700; --bad: #d33a2c; --busy: #2f6fdf; --check: #8a55d6; --create: #7d8a99;
  }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); background: var(--bg); }
  header { position: sticky; top: 0; z-index: 2; background: #18202b; color: #fff; padding: 8px 20px; display: flex; flex-wrap: wrap; align-items: center; gap: 8px 18px; }
  header h1 { margin: 0; font-size: 18px; font-weight: 650; letter-spacing: .2px; }
  header .sub { color: #aab6c5; font-size: 12px; }
  .summary { display: flex; flex-wrap: wrap; gap: 6px; flex: 1; }
  .tile { background: #243041; border-radius: 8px; padding: 3px 9px; min-width: 64px; }
  .tile .v { font-size: 16px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .tile .k { font-size: 10.5px; color: #aab6c5; text-transform: uppercase; letter-spacing: .4px; }
  .controls { display: flex; gap: 8px; align-items: center; }
  button { font: inherit; border: 1px solid #4a5a70; background: #2c3a4f; color: #fff; padding: 6px 12px; border-radius: 6px; cursor: pointer; }
  button:hover { background: #3a4c66; }
  button:disabled { opacity: .6; cursor: progress; }
  button.primary { background: #2f6fdf; border-color: #2f6fdf; }
  main { padding: 16px 20px 40px; max-width: 1600px; margin: 0 auto; }
  h2 { font-size: 15px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .6px; }
  .banner { margin: 12px 0 0; padding: 10px 14px; border-radius: 8px; background: #e8f1ff; border: 1px solid #b9d2fb; }
  .banner.error { background: #fdecea; border-color: #f5b8b2; }
  .banner.ok { background: #e7f6ec; border-color: #a9dcb9; }
  .hidden { display: none !important; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; min-width: 0; }
  .scroll { overflow-x: auto; }
  .card th, .card td { padding: 3px 5px; }
  .card h3 { margin: 0 0 8px; font-size: 15px; display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
  .card h3 .key { overflow-wrap: anywhere; }
  .meters { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-bottom: 10px; }
  .meter .label { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
  .meter .label b { color: var(--ink); font-variant-numeric: tabular-nums; }
  .bar { height: 8px; background: #e9edf2; border-radius: 4px; overflow: hidden; display: flex; }
  .bar > span { display: block; height: 100%; }
  .states { display: flex; flex-wrap: wrap; gap: 6px 12px; font-size: 12px; margin: 8px 0; }
  .states span { display: inline-flex; align-items: center; gap: 4px; font-variant-numeric: tabular-nums; }
  .dot { width: 9px; height: 9px; border-radius: 50%; display: inline-block; }
  table { width: 100%; border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 11.5px; text-transform: uppercase; letter-spacing: .3px; }
  td.num, th.num { text-align: right; }
  .tablecard { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 6px 10px; overflow-x: auto; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11.5px; font-weight: 600; color: #fff; }
  .s-idle, .c-closed { background: var(--ok); }
  .s-in_use { background: var(--busy); }
  .s-unhealthy, .c-open { background: var(--bad); }
  .s-checking { background: var(--check); }
  .s-creating, .s-closing { background: var(--create); }
  .c-half_open { background: var(--warn); }
  .muted { color: var(--muted); }
  .changed { animation: flash 1.2s ease-out; }
  @keyframes flash { from { background: #fff3b0; } to { background: transparent; } }
  .tile .changed { animation: flash-dark 1.2s ease-out; }
  @keyframes flash-dark { from { color: #ffd54a; } to { color: #fff; } }
  form.auth { display: flex; gap: 8px; margin-top: 8px; }
  form.auth input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 280px; }
</style>
</head>
<body>
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
    This gateway needs an API key to read pool data.
    <form class="auth" id="auth-form">
      <input id="auth-key" type="password" autocomplete="off" placeholder="API or admin key">
      <button class="primary" type="submit">Use key</button>
    </form>
  </div>
  <div id="error" class="banner error hidden"></div>
  <div id="action-result" class="banner hidden" role="status" aria-live="polite"></div>
  <h2>Pools <span class="muted" id="pool-count"></span></h2>
  <div class="grid" id="pools"></div>
  <h2>Deployments</h2>
  <div class="tablecard"><table id="deployments">
    <thead><tr>
      <th>Model</th><th>Deployment</th><th>Circuit</th><th class="num" title="client requests this deployment answered">Requests</th><th class="num">2xx</th>
      <th class="num" title="upstream calls by the current adapters, failed attempts included">Calls</th><th class="num">Success rate</th><th class="num">Mean latency</th><th class="num">EWMA latency</th><th class="num">In flight</th>
    </tr></thead>
    <tbody></tbody>
  </table></div>
</main>
<script>
(function () {
  'use strict';
  var REFRESH_MS = 2000;
  var KEY_STORE = 'adapterpool.readKey';
  var readKey = sessionStorage.getItem(KEY_STORE) || '';
  var paused = false;
  var timer = null;
  var previous = {};
  var STATE_COLORS = { available: 'var(--ok)', in_use: 'var(--busy)', unhealthy: 'var(--bad)', checking: 'var(--check)', creating: 'var(--create)' };
  var STATE_NAMES = { available: 'available', in_use: 'in use', unhealthy: 'unhealthy', checking: 'checking', creating: 'creating' };

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v === undefined || v === null) return;
        if (k === 'text') e.textContent = String(v);
        else if (k === 'class') e.className = v;
        else e.setAttribute(k, String(v));
      });
    }
    (kids || []).forEach(function (c) {
      if (c === null || c === undefined) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  function pct(x) { return (Math.round(x * 10) / 10) + '%'; }
  function ms(x) { return x === null || x === undefined ? '\u2013' : (x >= 1000 ? (x / 1000).toFixed(2) + ' s' : (Math.round(x * 10) / 10) + ' ms'); }
  function fmtRate(r, n) { return n > 0 ? pct(r * 100) : '\u2013'; }
  function show(id, on) { $(id).classList.toggle('hidden', !on); }

  /** A value cell that flashes when its value changed since the last refresh. */
  function val(tag, id, text, attrs) {
    var a = attrs || {};
    a['data-field'] = id.split('|').pop();
    a.text = text;
    var node = el(tag, a);
    if (previous[id] !== undefined && previous[id] !== text) node.classList.add('changed');
    previous[id] = text;
    return node;
  }

  function authHeaders(key) { return key ? { Authorization: 'Bearer ' + key } : {}; }

  async function getData(path) {
    var res = await fetch(path, { headers: authHeaders(readKey), cache: 'no-store' });
    if (res.status === 401 || res.status === 403) { var e = new Error('unauthorized'); e.auth = true; throw e; }
    var body = await res.json();
    if (!res.ok || !body.success) throw new Error((body && (body.message || (body.error && body.error.message))) || ('HTTP ' + res.status));
    return body.data;
  }

  function renderSummary(s) {
    var box = $('summary');
    box.textContent = '';
    [['pools', 'Pools', s.total_pools], ['adapters', 'Adapters', s.total_adapters], ['available', 'Available', s.available_adapters],
     ['in_use', 'In use', s.in_use_adapters], ['unhealthy', 'Unhealthy', s.unhealthy_adapters], ['waiting', 'Waiting', s.waiting],
     ['utilization', 'Utilization', pct(s.utilization_rate)], ['health', 'Health', pct(s.health_rate)]].forEach(function (t) {
      box.appendChild(el('div', { class: 'tile', 'data-summary': t[0] }, [val('div', 'sum|' + t[0], String(t[2]), { class: 'v' }), el('div', { class: 'k', text: t[1] })]));
    });
  }

  function meter(label, value, color, field, key) {
    return el('div', { class: 'meter' }, [
      el('div', { class: 'label' }, [el('span', { text: label }), val('b', key + '|' + field, pct(value))]),
      el('div', { class: 'bar' }, [el('span', { style: 'width:' + Math.max(0, Math.min(100, value)) + '%;background:' + color })]),
    ]);
  }

  function poolCard(key, p) {
    var states = { available: p.available, in_use: p.in_use, unhealthy: p.unhealthy, checking: p.checking, creating: p.creating };
    var slots = Math.max(p.max_pool_size, p.total + p.creating, 1);
    var stack = el('div', { class: 'bar', title: 'adapters by state, out of max ' + p.max_pool_size });
    var legend = el('div', { class: 'states' });
    Object.keys(states).forEach(function (s) {
      if (states[s] > 0) stack.appendChild(el('span', { style: 'width:' + (100 * states[s] / slots) + '%;background:' + STATE_COLORS[s] }));
      legend.appendChild(el('span', {}, [el('i', { class: 'dot', style: 'background:' + STATE_COLORS[s] }), val('b', key + '|' + s, String(states[s])), ' ' + STATE_NAMES[s]]));
    });
    legend.appendChild(el('span', { class: 'muted' }, ['waiting ', val('b', key + '|waiting', String(p.waiting))]));
    legend.appendChild(el('span', { class: 'muted' }, ['total ', val('b', key + '|total', String(p.total)), ' / max ' + p.max_pool_size]));

    var rows = (p.adapters || []).map(function (a) {
      var k = key + '#' + a.id;
      var finished = a.requests - (a.in_flight || 0) - (a.aborted || 0);
      return el('tr', { 'data-adapter': a.id }, [
        el('td', { text: '#' + a.id }),
        el('td', {}, [el('span', { class: 'badge s-' + a.state, text: a.state.replace('_', ' ') })]),
        val('td', k + '|use_count', String(a.use_count), { class: 'num' }),
        val('td', k + '|requests', String(a.requests), { class: 'num' }),
        val('td', k + '|mean_latency_ms', ms(finished > 0 ? a.mean_latency_ms : null), { class: 'num' }),
        val('td', k + '|success_rate', fmtRate(a.success_rate, finished), { class: 'num' }),
      ]);
    });
    var table = el('table', {}, [
      el('thead', {}, [el('tr', {}, [el('th', { text: 'Adapter' }), el('th', { text: 'State' }), el('th', { class: 'num', text: 'Uses' }),
        el('th', { class: 'num', text: 'Requests' }), el('th', { class: 'num', text: 'Mean' }), el('th', { class: 'num', text: 'Success' })])]),
      el('tbody', {}, rows.length ? rows : [el('tr', {}, [el('td', { colspan: 6, class: 'muted', text: 'no adapters yet' })])]),
    ]);
    var healthColor = p.health_rate >= 99.95 ? 'var(--ok)' : p.health_rate >= 50 ? 'var(--warn)' : 'var(--bad)';
    return el('section', { class: 'card', 'data-pool': key }, [
      el('h3', {}, [el('span', { class: 'key', text: key }), el('span', { class: 'muted', text: p.expired > 0 ? p.expired + ' expired' : '' })]),
      el('div', { class: 'meters' }, [meter('Utilization', p.utilization_rate, 'var(--busy)', 'utilization_rate', key), meter('Health', p.health_rate, healthColor, 'health_rate', key)]),
      stack,
      legend,
      el('div', { class: 'scroll' }, [table]),
    ]);
  }

  function renderPools(stats) {
    var box = $('pools');
    var keys = Object.keys(stats.pools);
    $('pool-count').textContent = '(' + keys.length + ')';
    box.textContent = '';
    keys.forEach(function (k) { box.appendChild(poolCard(k, stats.pools[k])); });
  }

  function renderDeployments(d) {
    var byKey = {};
    d.deployments.forEach(function (x) { byKey[x.key] = x; });
    var body = $('deployments').tBodies[0];
    body.textContent = '';
    d.models.forEach(function (m) {
      m.deployments.forEach(function (key, i) {
        var x = byKey[key];
        if (!x) return;
        var id = m.name + '>' + key;
        body.appendChild(el('tr', { 'data-deployment': key, 'data-model': m.name }, [
          el('td', {}, i === 0 ? [el('b', { text: m.name }), el('span', { class: 'muted', text: ' ' + m.strategy.replace('_', ' ') })] : []),
          el('td', { text: key }),
          el('td', {}, [el('span', { class: 'badge c-' + x.circuit, 'data-field': 'circuit', text: x.circuit.replace('_', '-') + (x.retry_after_ms ? ' (' + Math.ceil(x.retry_after_ms / 1000) + ' s)' : '') })]),
          val('td', id + '|requests', String(x.requests), { class: 'num' }),
          val('td', id + '|ok', String(x.ok), { class: 'num' }),
          val('td', id + '|upstream_calls', String(x.upstream_calls), { class: 'num' }),
          val('td', id + '|success_rate', fmtRate(x.success_rate, x.upstream_calls), { class: 'num' }),
          val('td', id + '|mean_latency_ms', ms(x.upstream_calls > 0 ? x.mean_latency_ms : null), { class: 'num' }),
          val('td', id + '|ewma_latency_ms', ms(x.ewma_latency_ms), { class: 'num' }),
          val('td', id + '|in_flight', String(x.in_flight), { class: 'num' }),
        ]));
      });
    });
  }

  async function refresh() {
    try {
      var all = await Promise.all([getData('/v1/pool/status'), getData('/v1/pool/stats?detail=true'), getData('/v1/pool/deployments')]);
      renderSummary(all[0]);
      renderPools(all[1]);
      renderDeployments(all[2]);
      show('auth', false);
      show('error', false);
      $('updated').textContent = new Date().toLocaleTimeString();
      document.body.setAttribute('data-refreshes', String(Number(document.body.getAttribute('data-refreshes') || '0') + 1));
    } catch (e) {
      if (e && e.auth) { show('auth', true); show('error', false); }
      else { $('error').textContent = 'Refresh failed: ' + (e && e.message ? e.message : String(e)); show('error', true); }
    }
  }

  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = paused ? null : setTimeout(function () { refresh().finally(schedule); }, REFRESH_MS);
  }

  function describe(kind, d) {
    if (kind === 'health') {
      return 'Health check: ' + d.checked + ' checked, ' + d.healthy + ' healthy, ' + d.unhealthy + ' unhealthy, ' + d.recovered + ' recovered, ' +
        d.replaced + ' replaced, ' + d.skipped_in_use + ' skipped (in use).';
    }
    return 'Cleanup: ' + d.removed + ' removed (' + d.expired + ' expired, ' + d.unhealthy + ' unhealthy), ' + d.created + ' created.';
  }

  async function adminAction(kind, button) {
    var key = window.prompt('Admin key for ' + (kind === 'health' ? 'the health check' : 'cleanup') + ' (leave empty if none is configured):', '');
    if (key === null) return;
    var box = $('action-result');
    button.disabled = true;
    box.className = 'banner';
    box.textContent = (kind === 'health' ? 'Health check' : 'Cleanup') + ' running\u2026';
    try {
      var res = await fetch(kind === 'health' ? '/v1/pool/health-check' : '/v1/pool/cleanup', { method: 'POST', headers: authHeaders(key), cache: 'no-store' });
      var body = await res.json().catch(function () { return null; });
      if (res.ok && body && body.success) {
        box.className = 'banner ok';
        box.textContent = describe(kind, body.data) + ' (' + new Date().toLocaleTimeString() + ')';
        box.setAttribute('data-result', kind + ':ok');
      } else {
        box.className = 'banner error';
        box.textContent = (kind === 'health' ? 'Health check' : 'Cleanup') + ' failed: HTTP ' + res.status + ' ' +
          ((body && (body.message || (body.error && body.error.message))) || '');
        box.setAttribute('data-result', kind + ':error');
      }
    } catch (e) {
      box.className = 'banner error';
      box.textContent = 'Request failed: ' + (e && e.message ? e.message : String(e));
      box.setAttribute('data-result', kind + ':error');
    } finally {
      button.disabled = false;
      await refresh();
    }
  }

  $('btn-health').addEventListener('click', function () { adminAction('health', this); });
  $('btn-cleanup').addEventListener('click', function () { adminAction('cleanup', this); });
  $('btn-pause').addEventListener('click', function () {
    paused = !paused;
    this.textContent = paused ? 'Resume' : 'Pause';
    schedule();
  });
  $('auth-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    readKey = $('auth-key').value.trim();
    if (readKey) sessionStorage.setItem(KEY_STORE, readKey); else sessionStorage.removeItem(KEY_STORE);
    refresh();
  });
  $('interval').textContent = String(REFRESH_MS / 1000);
  refresh().finally(schedule);
})();
</script>
</body>
</html>
`;
