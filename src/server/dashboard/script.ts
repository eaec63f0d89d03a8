/**
 * The dashboard's behaviour (inlined into the page after CHARTS_JS). Polls `GET /v1/pool/status`,
 * `GET /v1/pool/stats?detail=true`, `GET /v1/pool/deployments` and `GET /v1/pool/history` every
 * 2 s with the read key (asked in the page when the gateway requires one) and renders the header,
 * the charts of the chosen subject, the models, the pools and the deployments. The Health check /
 * Cleanup buttons ask for the admin key (window.prompt). Panels inlined after it (usage, replicas)
 * push a function onto `panels`, called after each successful refresh; page.ts starts the polling
 * once they are in. No backtick and no dollar-brace below.
 */
export const DASHBOARD_JS = String.raw`
  var REFRESH_MS = 2000;
  var KEY_STORE = 'adapterpool.readKey';
  var readKey = sessionStorage.getItem(KEY_STORE) || '';
  var paused = false;
  var timer = null;
  // Reads refused (no key, or a wrong one): no polling until a key is given, so the page does not
  // send four refused requests (and log four console errors) every refresh.
  var needKey = false;
  var previous = {};
  var lastHistory = null;
  var subject = 'all';
  var panels = [];
  var STATE_COLORS = { available: 'var(--ok)', in_use: 'var(--busy)', unhealthy: 'var(--bad)', checking: 'var(--check)', creating: 'var(--create)' };
  var STATE_NAMES = { available: 'available', in_use: 'in use', unhealthy: 'unhealthy', checking: 'checking', creating: 'creating' };
  var STATUS_ORDER = ['2xx', '4xx', '429', '5xx'];
  var STATUS_COLORS = { '2xx': '#1f9d55', '4xx': '#c77700', '429': '#8a55d6', '5xx': '#d33a2c' };
  var CLASS_COLORS = ['#d33a2c', '#c77700', '#8a55d6', '#2f6fdf', '#0f8b8d', '#7d8a99', '#b5487d', '#5b6675', '#e07b39', '#3d9a3d', '#9c6b30', '#1c2430', '#d08fb0', '#6e7fd6'];

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
  function pair(a, b) {
    if (a === null || a === undefined) return '\u2013';
    var s = b !== null && b !== undefined && b >= 1000;
    var f = function (v) { return s ? (v / 1000).toFixed(2) : String(Math.round(v * 10) / 10); };
    return f(a) + ' / ' + f(b) + (s ? ' s' : ' ms');
  }
  function fmtRate(r, n) { return n > 0 ? pct(r * 100) : '\u2013'; }
  function num(v) { return v >= 100 ? String(Math.round(v)) : String(Math.round(v * 100) / 100); }
  function show(id, on) { $(id).classList.toggle('hidden', !on); }
  function windowText(d) { var m = Math.round(d.window_ms / 60000); return m >= 1 ? m + ' min' : Math.round(d.window_ms / 1000) + ' s'; }

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

  function tile(key, label, value, title, cls) {
    return el('div', { class: 'tile' + (cls ? ' ' + cls : ''), 'data-summary': key, title: title }, [val('div', 'sum|' + key, value, { class: 'v' }), el('div', { class: 'k', text: label })]);
  }

  function renderSummary(s, d) {
    var box = $('summary');
    box.textContent = '';
    var w = windowText(d);
    var failing = d.window.failed > 0;
    box.appendChild(tile('requests', 'Requests ' + w, String(d.window.requests), 'Chat requests answered in the last ' + w + ', every model and outcome'));
    box.appendChild(tile('error_rate', 'Errors ' + w, d.window.requests > 0 ? pct(d.window.error_rate * 100) : '\u2013',
      'Requests answered 5xx or 429 in the last ' + w + ' (failures that reached the client and were not its fault: a key over its own limit is not counted): ' + d.window.failed + ' of ' + d.window.requests, failing ? 'bad' : ''));
    d.models.forEach(function (m) {
      var t = tile('model:' + m.name, m.name, m.window.requests > 0 ? pct(m.window.error_rate * 100) : '\u2013',
        m.name + ': error rate over the last ' + w + ' (' + m.window.failed + ' of ' + m.window.requests + ' requests answered 5xx or 429, a key over its own limit not counted)', 'model' + (m.window.failed > 0 ? ' bad' : ''));
      t.setAttribute('data-model-error', m.name);
      box.appendChild(t);
    });
    [['pools', 'Pools', s.total_pools, 'model:provider pools'], ['adapters', 'Adapters', s.total_adapters, 'adapters in every pool'],
     ['available', 'Available', s.available_adapters, 'idle adapters ready to lend'], ['in_use', 'In use', s.in_use_adapters, 'adapters serving a request now'],
     ['unhealthy', 'Unhealthy', s.unhealthy_adapters, 'adapters that failed their health check'], ['waiting', 'Waiting', s.waiting, 'callers queued for an adapter'],
     ['utilization', 'Utilization', pct(s.utilization_rate), 'adapters in use / adapters'],
     ['health', 'Adapter health', pct(s.health_rate), 'Adapters that passed their last health check / adapters. Says nothing about answers: see the error rates.']].forEach(function (t) {
      box.appendChild(tile(t[0], t[1], String(t[2]), t[3]));
    });
  }

  function meter(label, value, color, field, key, title) {
    return el('div', { class: 'meter', title: title }, [
      el('div', { class: 'label' }, [el('span', { text: label }), val('b', key + '|' + field, pct(value))]),
      el('div', { class: 'bar' }, [el('span', { style: 'width:' + Math.max(0, Math.min(100, value)) + '%;background:' + color })]),
    ]);
  }

  function poolCard(key, p, latencies) {
    var states = { available: p.available, in_use: p.in_use, unhealthy: p.unhealthy, checking: p.checking, creating: p.creating };
    var slots = Math.max(p.max_pool_size, p.total + p.creating, 1);
    var stack = el('div', { class: 'bar', title: 'adapters by state, out of max ' + p.max_pool_size, 'data-bar': 'states' });
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
      var lat = latencies[a.id] || {};
      return el('tr', { 'data-adapter': a.id }, [
        el('td', { text: '#' + a.id }),
        el('td', {}, [el('span', { class: 'badge s-' + a.state, text: a.state.replace('_', ' ') })]),
        val('td', k + '|use_count', String(a.use_count), { class: 'num' }),
        val('td', k + '|requests', String(a.requests), { class: 'num' }),
        val('td', k + '|latency', pair(lat.latency_p50_ms, lat.latency_p95_ms), { class: 'num' }),
        val('td', k + '|success_rate', fmtRate(a.success_rate, finished), { class: 'num' }),
      ]);
    });
    var table = el('table', {}, [
      el('thead', {}, [el('tr', {}, [el('th', { text: 'Adapter' }), el('th', { text: 'State' }),
        el('th', { class: 'num', text: 'Uses', title: 'times this adapter was lent' }),
        el('th', { class: 'num', text: 'Requests', title: 'upstream calls this adapter made (retries included)' }),
        el('th', { class: 'num', text: 'p50 / p95', title: 'latency of this adapter\'s finished calls: median / 95th percentile (since it was created)' }),
        el('th', { class: 'num', text: 'Success', title: 'successful calls / finished calls of this adapter' })])]),
      el('tbody', {}, rows.length ? rows : [el('tr', {}, [el('td', { colspan: 6, class: 'muted', text: 'no adapters yet' })])]),
    ]);
    var healthColor = p.health_rate >= 99.95 ? 'var(--ok)' : p.health_rate >= 50 ? 'var(--warn)' : 'var(--bad)';
    return el('section', { class: 'card', 'data-pool': key }, [
      el('h3', {}, [el('span', { class: 'key', text: key }), el('span', { class: 'muted', text: p.expired > 0 ? p.expired + ' expired' : '' })]),
      el('div', { class: 'meters' }, [
        meter('Utilization', p.utilization_rate, 'var(--busy)', 'utilization_rate', key, 'adapters in use / adapters in this pool'),
        meter('Adapter health', p.health_rate, healthColor, 'health_rate', key, 'adapters that passed their last health check / adapters. Not whether requests succeed: see the deployment\'s error numbers.'),
      ]),
      el('div', { class: 'barlabel' }, [el('span', { text: 'Adapters by state' }), el('span', { text: (p.total + p.creating) + ' of max ' + p.max_pool_size })]),
      stack,
      legend,
      el('div', { class: 'scroll' }, [table]),
    ]);
  }

  function renderPools(stats, d) {
    var byKey = {};
    d.deployments.forEach(function (x) {
      if (byKey[x.key]) return;
      var m = {};
      (x.adapters || []).forEach(function (a) { m[a.id] = a; });
      byKey[x.key] = m;
    });
    var box = $('pools');
    var keys = Object.keys(stats.pools);
    $('pool-count').textContent = '(' + keys.length + ')';
    box.textContent = '';
    keys.forEach(function (k) { box.appendChild(poolCard(k, stats.pools[k], byKey[k] || {})); });
  }

  function renderModels(d) {
    var body = $('models').tBodies[0];
    body.textContent = '';
    d.models.forEach(function (m) {
      var w = m.window;
      var id = 'model>' + m.name;
      body.appendChild(el('tr', { 'data-model-row': m.name }, [
        el('td', {}, [el('b', { text: m.name })]),
        el('td', { class: 'muted', text: m.strategy.replace('_', ' ') }),
        val('td', id + '|requests', String(w.requests), { class: 'num' }),
        val('td', id + '|ok', String(w.ok), { class: 'num' }),
        val('td', id + '|failed', String(w.failed), { class: 'num' + (w.failed > 0 ? ' bad' : '') }),
        val('td', id + '|error_rate', w.requests > 0 ? pct(w.error_rate * 100) : '\u2013', { class: 'num' + (w.failed > 0 ? ' bad' : '') }),
        val('td', id + '|latency', pair(w.latency_p50_ms, w.latency_p95_ms), { class: 'num' }),
        val('td', id + '|ttft', pair(w.ttft_p50_ms, w.ttft_p95_ms), { class: 'num' }),
        val('td', id + '|tokens', String(w.prompt_tokens + w.completion_tokens), { class: 'num' }),
        val('td', id + '|total_requests', String(m.requests), { class: 'num' }),
        val('td', id + '|total_failed', String(m.failed), { class: 'num' + (m.failed > 0 ? ' bad' : '') }),
      ]));
    });
  }

  function renderDeployments(d) {
    var byKey = {};
    d.deployments.forEach(function (x) { byKey[x.gateway_model + '>' + x.key] = x; });
    var body = $('deployments').tBodies[0];
    body.textContent = '';
    d.models.forEach(function (m) {
      m.deployments.forEach(function (key, i) {
        var x = byKey[m.name + '>' + key];
        if (!x) return;
        var id = m.name + '>' + key;
        var shared = x.shared_with && x.shared_with.length ? 'also serves ' + x.shared_with.join(', ') + ': circuit, calls and adapters are shared' : null;
        body.appendChild(el('tr', { 'data-deployment': key, 'data-model': m.name }, [
          el('td', {}, i === 0 ? [el('b', { text: m.name }), el('span', { class: 'muted', text: ' ' + m.strategy.replace('_', ' ') })] : []),
          el('td', { title: shared }, [key, shared ? el('span', { class: 'muted', text: ' (shared)' }) : null]),
          el('td', {}, [el('span', { class: 'badge c-' + x.circuit, 'data-field': 'circuit', text: x.circuit.replace('_', '-') + (x.retry_after_ms ? ' (' + Math.ceil(x.retry_after_ms / 1000) + ' s)' : '') })]),
          val('td', id + '|requests', String(x.requests), { class: 'num' }),
          val('td', id + '|ok', String(x.ok), { class: 'num' }),
          val('td', id + '|failed', String(x.failed), { class: 'num' + (x.failed > 0 ? ' bad' : '') }),
          val('td', id + '|upstream_calls', String(x.upstream_calls), { class: 'num' }),
          val('td', id + '|success_rate', fmtRate(x.success_rate, x.upstream_calls), { class: 'num' }),
          val('td', id + '|latency', pair(x.window.latency_p50_ms, x.window.latency_p95_ms), { class: 'num' }),
          val('td', id + '|ewma_latency_ms', ms(x.ewma_latency_ms), { class: 'num' }),
          val('td', id + '|in_flight', String(x.in_flight), { class: 'num' }),
        ]));
      });
    });
  }

  function renderSubjects(h) {
    var sel = $('subject');
    var want = ['all'].concat(Object.keys(h.models).map(function (m) { return 'model:' + m; }), Object.keys(h.deployments).map(function (k) { return 'deployment:' + k; }));
    var have = Array.prototype.map.call(sel.options, function (o) { return o.value; });
    if (have.join('\n') !== want.join('\n')) {
      sel.textContent = '';
      want.forEach(function (v) {
        var label = v === 'all' ? 'whole gateway' : v.replace(':', ' ');
        sel.appendChild(el('option', { value: v, text: label }));
      });
    }
    if (want.indexOf(subject) < 0) subject = 'all';
    sel.value = subject;
  }

  function viewOf(h) {
    if (subject.indexOf('model:') === 0) return h.models[subject.slice(6)];
    if (subject.indexOf('deployment:') === 0) return h.deployments[subject.slice(11)];
    return h.all;
  }

  function renderCharts() {
    var h = lastHistory;
    if (!h) return;
    renderSubjects(h);
    var v = viewOf(h) || h.all;
    var rate = function (x) { return num(x) + '/s'; };
    var isDeployment = subject.indexOf('deployment:') === 0;
    $('chart-window').textContent = 'last ' + windowText(h) + ', one point per ' + Math.round(h.step_ms / 1000) + ' s';
    drawChart($('chart-requests'), { id: 'requests', title: 'Requests per second by status', times: h.times, format: rate,
      series: STATUS_ORDER.map(function (k) { return { name: k, color: STATUS_COLORS[k], values: v.requests_per_s[k] || [] }; }) });
    drawChart($('chart-latency'), { id: 'latency', title: 'Latency', times: h.times, format: function (x) { return ms(x); },
      series: [{ name: 'p50', color: '#2f6fdf', values: v.latency_p50_ms }, { name: 'p95', color: '#d33a2c', values: v.latency_p95_ms },
        { name: 'TTFT p50', color: '#1f9d55', values: v.ttft_p50_ms }, { name: 'TTFT p95', color: '#c77700', values: v.ttft_p95_ms }] });
    var classes = Object.keys(v.errors_per_s);
    drawChart($('chart-errors'), { id: 'errors', title: 'Errors per second by class', times: h.times, format: rate, empty: 'no errors in the window',
      series: classes.map(function (c, i) { return { name: c, color: CLASS_COLORS[i % CLASS_COLORS.length], values: v.errors_per_s[c] }; }) });
    drawChart($('chart-tokens'), { id: 'tokens', title: 'Tokens per second', times: h.times, format: rate,
      series: [{ name: 'prompt', color: '#2f6fdf', values: v.tokens_per_s.prompt }, { name: 'completion', color: '#8a55d6', values: v.tokens_per_s.completion }] });
    $('errors-note').textContent = isDeployment ? 'every failed call to this deployment (retries and failovers included)' : 'failed requests, by the class of the error that ended them';
  }

  async function refresh() {
    try {
      var all = await Promise.all([getData('/v1/pool/status'), getData('/v1/pool/stats?detail=true'), getData('/v1/pool/deployments'), getData('/v1/pool/history')]);
      renderSummary(all[0], all[2]);
      lastHistory = all[3];
      renderCharts();
      renderModels(all[2]);
      renderPools(all[1], all[2]);
      renderDeployments(all[2]);
      needKey = false;
      show('auth', false);
      show('error', false);
      panels.forEach(function (p) { p(); });
      $('updated').textContent = new Date().toLocaleTimeString();
      document.body.setAttribute('data-refreshes', String(Number(document.body.getAttribute('data-refreshes') || '0') + 1));
    } catch (e) {
      if (e && e.auth) {
        needKey = true;
        $('auth-refused').textContent = readKey ? 'That key was refused: enter an API or admin key of this gateway.' : '';
        show('auth', true);
        show('error', false);
      }
      else { $('error').textContent = 'Refresh failed: ' + (e && e.message ? e.message : String(e)); show('error', true); }
    }
  }

  function schedule() {
    if (timer !== null) clearTimeout(timer);
    timer = paused || needKey ? null : setTimeout(function () { refresh().finally(schedule); }, REFRESH_MS);
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
  $('subject').addEventListener('change', function () { subject = this.value; renderCharts(); });
  $('auth-form').addEventListener('submit', function (ev) {
    ev.preventDefault();
    readKey = $('auth-key').value.trim();
    if (readKey) sessionStorage.setItem(KEY_STORE, readKey); else sessionStorage.removeItem(KEY_STORE);
    refresh().finally(schedule);
  });
  $('interval').textContent = String(REFRESH_MS / 1000);
`;

/** Starts the polling; inlined last, after the panels registered. */
export const DASHBOARD_START_JS = String.raw`
  refresh().finally(schedule);
`;
