/**
 * The dashboard's usage panel: requests, tokens and cost per client key and per model over the
 * last hour and the last day, from `GET /v1/usage` (the ledger). Inlined after the main script,
 * whose `$`, `el`, `val`, `show`, `authHeaders`, `readKey` and `panels` it uses. Asked every 30 s,
 * not at every refresh: the ledger is written in batches and a summary is a query over it.
 * A gateway without a ledger (`usage.enabled: false`) has no `/v1/usage` (404): the panel says
 * so and stops asking (the ledger is set up at start; a reload does not add one).
 * Cost is a plain number (the config names no currency); "–" where no request had a price.
 * The script below is a String.raw template: no backtick and no dollar-brace in it.
 */

const COLS =
  '<th class="num" title="chat requests recorded, every status">Requests</th>' +
  '<th class="num" title="prompt + completion tokens the upstreams reported (hover a number for the split)">Tokens</th>' +
  '<th class="num" title="sum of the requests&#39; costs from the model&#39;s pricing (per million tokens, in the config&#39;s currency); &ndash; when no request here had a price">Cost</th>';

/** Two header rows: the name column, then requests / tokens / cost for the last hour and the last day. */
const head = (what: string, tip: string): string =>
  '\n        <thead>\n          <tr><th rowspan="2" title="' + tip + '">' + what + '</th>' +
  '<th class="num span" colspan="3" title="the ledger&#39;s rows of the last 60 minutes">Last hour</th>' +
  '<th class="num span" colspan="3" title="the ledger&#39;s rows of the last 24 hours">Last day</th></tr>\n' +
  '          <tr>' + COLS + COLS + '</tr>\n        </thead>';

export const USAGE_PANEL_HTML = String.raw`
  <section id="usage" data-state="loading">
    <h2>Usage <span class="muted" id="usage-scope"></span></h2>
    <div id="usage-note" class="banner hidden" role="status"></div>
    <div class="usage-grid hidden" id="usage-tables">
      <div class="tablecard"><table id="usage-by-key">` +
  head('Key', 'the client key&#39;s name from auth.keys; (unnamed): apiKeys entries, the admin key or an open gateway') +
  String.raw`
        <tbody></tbody><tfoot></tfoot>
      </table></div>
      <div class="tablecard"><table id="usage-by-model">` +
  head('Model', 'the gateway model the client asked for') +
  String.raw`
        <tbody></tbody><tfoot></tfoot>
      </table></div>
    </div>
  </section>
`;

export const USAGE_PANEL_CSS = String.raw`
  .usage-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 12px; }
  th.span { text-align: center; border-bottom: none; }
  tfoot td { font-weight: 650; border-bottom: none; }
  #usage-scope { text-transform: none; letter-spacing: 0; font-size: 13px; font-weight: 400; }
`;

export const USAGE_PANEL_JS = String.raw`
  var USAGE_REFRESH_MS = 30000;
  var usageAt = 0;
  var usageBusy = false;
  var usageOff = false;

  /** A plain number (no currency is configured); "–" when no request in the group had a price. */
  function money(g) {
    if (!g || !g.priced_requests) return '\u2013';
    var c = g.cost;
    if (c === 0) return '0';
    if (c >= 1) return c.toFixed(2);
    return c >= 0.000001 ? String(Number(c.toPrecision(3))) : '< 0.000001';
  }

  function usageCells(id, g, span) {
    var tip = g ? g.prompt_tokens + ' prompt + ' + g.completion_tokens + ' completion' : null;
    return [
      val('td', id + '|' + span + '_requests', g ? String(g.requests) : '0', { class: 'num', title: g && g.errors ? g.errors + ' answered 4xx / 5xx' : null }),
      val('td', id + '|' + span + '_tokens', g ? String(g.total_tokens) : '0', { class: 'num', title: tip }),
      val('td', id + '|' + span + '_cost', money(g), { class: 'num', 'data-value': g && g.priced_requests ? g.cost : null }),
    ];
  }

  function renderUsage(tableId, hour, day, unnamed) {
    var table = $(tableId);
    var rows = {};
    var order = [];
    function at(g) { var k = g.group === null ? '' : g.group; if (!rows[k]) { rows[k] = {}; order.push(k); } return rows[k]; }
    day.groups.forEach(function (g) { at(g).day = g; });
    hour.groups.forEach(function (g) { at(g).hour = g; });
    order.sort(function (a, b) { return ((rows[b].day || {}).requests || 0) - ((rows[a].day || {}).requests || 0) || (a < b ? -1 : 1); });
    var body = table.tBodies[0];
    body.textContent = '';
    if (order.length === 0) body.appendChild(el('tr', {}, [el('td', { colspan: 7, class: 'muted', text: 'no requests in the last day' })]));
    order.forEach(function (k) {
      var id = tableId + '>' + k;
      var name = k === '' ? el('span', { class: 'muted', text: unnamed }) : el('b', { text: k });
      body.appendChild(el('tr', { 'data-usage-row': k }, [el('td', {}, [name])].concat(usageCells(id, rows[k].hour, 'hour'), usageCells(id, rows[k].day, 'day'))));
    });
    var foot = table.tFoot;
    foot.textContent = '';
    if (order.length > 1) foot.appendChild(el('tr', { 'data-usage-total': '' }, [el('td', { text: 'All' })].concat(usageCells(tableId + '>*', hour.total, 'hour'), usageCells(tableId + '>*', day.total, 'day'))));
  }

  function usageState(state, note) {
    $('usage').setAttribute('data-state', state);
    $('usage-note').textContent = note || '';
    $('usage-note').className = 'banner' + (state === 'error' ? ' error' : '') + (note ? '' : ' hidden');
    show('usage-tables', state === 'ok');
  }

  /** One summary; null when the gateway has no ledger. */
  async function usageGet(groupBy, sinceMs) {
    var res = await fetch('/v1/usage?group_by=' + groupBy + '&from=' + ((Date.now() - sinceMs) / 1000).toFixed(3), { headers: authHeaders(readKey), cache: 'no-store' });
    if (res.status === 404) return null;
    var body = await res.json().catch(function () { return null; });
    if (!res.ok || !body || !body.success) throw new Error((body && (body.message || (body.error && body.error.message))) || ('HTTP ' + res.status));
    return body.data;
  }

  async function refreshUsage() {
    if (usageOff || usageBusy || Date.now() - usageAt < USAGE_REFRESH_MS) return;
    usageBusy = true;
    usageAt = Date.now();
    try {
      var r = await Promise.all([usageGet('key', 3600000), usageGet('key', 86400000), usageGet('model', 3600000), usageGet('model', 86400000)]);
      if (r.indexOf(null) >= 0) {
        usageOff = true;
        $('usage-scope').textContent = '';
        usageState('off', 'The usage ledger is off on this gateway (usage.enabled: false), so there is no usage to show.');
        return;
      }
      renderUsage('usage-by-key', r[0], r[1], '(unnamed)');
      renderUsage('usage-by-model', r[2], r[3], '(none)');
      $('usage-scope').textContent = (r[1].key !== undefined ? 'your key only' : 'every key') + ' \u00b7 from the ledger, every ' + USAGE_REFRESH_MS / 1000 + ' s \u00b7 ' + new Date().toLocaleTimeString();
      usageState('ok');
    } catch (e) {
      usageState('error', 'Usage unavailable: ' + (e && e.message ? e.message : String(e)));
    } finally {
      usageBusy = false;
    }
  }

  panels.push(refreshUsage);
`;
