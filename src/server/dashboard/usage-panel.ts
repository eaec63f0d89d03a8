/**
 * The dashboard's usage panel: requests, tokens and cost per client key and per model over the
 * last hour and the last day, from `GET /v1/usage` (the ledger). Inlined into the page after the
 * main script, whose `$`, `el` and `getData` it uses. Refreshed less often than the live numbers:
 * the ledger is written in batches anyway. A gateway without a ledger (404) hides the panel; a key
 * that sees only its own usage sees only its row. No backtick and no dollar-brace below.
 */

export const USAGE_PANEL_HTML = String.raw`
  <section id="usage" class="hidden">
    <h2>Usage <span class="muted" id="usage-scope"></span></h2>
    <div class="usage-grid">
      <div class="tablecard"><table id="usage-by-key">
        <thead>
          <tr><th rowspan="2">Key</th><th class="num" colspan="3" title="from the usage ledger: the last 60 minutes">Last hour</th><th class="num" colspan="3" title="from the usage ledger: the last 24 hours">Last day</th></tr>
          <tr><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th></tr>
        </thead>
        <tbody></tbody>
      </table></div>
      <div class="tablecard"><table id="usage-by-model">
        <thead>
          <tr><th rowspan="2">Model</th><th class="num" colspan="3" title="from the usage ledger: the last 60 minutes">Last hour</th><th class="num" colspan="3" title="from the usage ledger: the last 24 hours">Last day</th></tr>
          <tr><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th><th class="num">Requests</th><th class="num">Tokens</th><th class="num">Cost</th></tr>
        </thead>
        <tbody></tbody>
      </table></div>
    </div>
  </section>
`;

export const USAGE_PANEL_CSS = String.raw`
  .usage-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 12px; }
`;

export const USAGE_PANEL_JS = String.raw`
  var USAGE_REFRESH_MS = 10000;
  var usageAt = 0;
  var usageMissing = false;

  function usageCost(c) { return c > 0 ? (c >= 1 ? c.toFixed(2) : c.toPrecision(3)) : '\u2013'; }

  function renderUsage(tableId, hour, day, label) {
    var body = $(tableId).tBodies[0];
    body.textContent = '';
    var rows = {};
    var order = [];
    function row(g) { var k = g.group === null ? '' : g.group; if (!rows[k]) { rows[k] = { hour: null, day: null }; order.push(k); } return rows[k]; }
    day.groups.forEach(function (g) { row(g).day = g; });
    hour.groups.forEach(function (g) { row(g).hour = g; });
    order.sort(function (a, b) { return (rows[b].day ? rows[b].day.total_tokens : 0) - (rows[a].day ? rows[a].day.total_tokens : 0); });
    if (order.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: '7', class: 'muted', text: 'no requests in the last day' })]));
    order.forEach(function (k) {
      var r = rows[k];
      var cells = [el('td', {}, [k === '' ? el('span', { class: 'muted', text: label }) : el('b', { text: k })])];
      [r.hour, r.day].forEach(function (g) {
        cells.push(el('td', { class: 'num', text: g ? String(g.requests) : '0' }));
        cells.push(el('td', { class: 'num', text: g ? String(g.total_tokens) : '0' }));
        cells.push(el('td', { class: 'num', text: g ? usageCost(g.cost) : '\u2013' }));
      });
      body.appendChild(el('tr', { 'data-usage-row': tableId + '>' + k }, cells));
    });
  }

  async function refreshUsage(force) {
    if (usageMissing || (!force && Date.now() - usageAt < USAGE_REFRESH_MS)) return;
    usageAt = Date.now();
    var hourFrom = Math.floor(Date.now() / 1000) - 3600;
    try {
      var r = await Promise.all([
        getData('/v1/usage?group_by=key&from=' + hourFrom), getData('/v1/usage?group_by=key'),
        getData('/v1/usage?group_by=model&from=' + hourFrom), getData('/v1/usage?group_by=model'),
      ]);
      renderUsage('usage-by-key', r[0], r[1], 'no key');
      renderUsage('usage-by-model', r[2], r[3], 'unknown');
      $('usage-scope').textContent = r[1].key !== undefined ? 'your key only' : 'every key';
      show('usage', true);
    } catch (e) {
      // No ledger (usage.enabled: false): the route does not exist; stop asking.
      if (e && String(e.message).indexOf('Unknown request URL') >= 0) { usageMissing = true; show('usage', false); }
    }
  }
`;
