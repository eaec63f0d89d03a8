/**
 * The dashboard's replicas panel: the fleet from `GET /v1/pool/status?scope=cluster`, asked with
 * every refresh. Per replica its id (this one marked), when it last published its snapshot, and
 * what the snapshot carries: its mode, config version, start, pools, adapters in use, requests in
 * flight, circuits not closed. The heading says the mode: shared (Redis reachable: the list is the
 * fleet) or local (Redis away: only this replica). Without `cluster.redis` it says "single process".
 * Inlined after the main script, whose `$`, `el`, `val`, `show`, `getData` and `panels` it uses.
 * The script below is a String.raw template: no backtick and no dollar-brace in it.
 */

export const REPLICAS_PANEL_HTML = String.raw`
  <section id="replicas" data-mode="loading">
    <h2>Replicas <span id="replicas-mode"></span></h2>
    <div id="replicas-note" class="banner hidden" role="status"></div>
    <div class="tablecard hidden" id="replicas-card"><table id="replicas-table">
      <thead><tr>
        <th title="the replica's id (cluster.replicaId, default hostname:pid); the one serving this page is marked">Replica</th>
        <th class="num" title="time since the replica last published its snapshot (it publishes every cluster.snapshotInterval and disappears after cluster.snapshotTtl without one)">Last seen</th>
        <th title="the replica's own mode when it published: shared = it reached Redis; local = it ran on its own state">Mode</th>
        <th class="num" title="version of the config the replica runs (1 at start, +1 per reload): replicas that differ have not all reloaded">Config version</th>
        <th class="num" title="how long the replica has been running (hover for the start time)">Up</th>
        <th class="num" title="model:provider pools on the replica">Pools</th>
        <th class="num" title="adapters serving a request on the replica now">Adapters in use</th>
        <th class="num" title="upstream calls in progress on the replica, over every deployment">In flight</th>
        <th class="num" title="deployments whose circuit is open or half-open on the replica (hover for which)">Circuits open</th>
      </tr></thead>
      <tbody></tbody>
    </table></div>
  </section>
`;

export const REPLICAS_PANEL_CSS = String.raw`
  tr.self td { background: #eef4ff; }
  .badge.self { background: var(--busy); margin-left: 6px; }
  .badge.m-shared { background: var(--ok); }
  .badge.m-local { background: var(--warn); }
  .badge.m-single { background: var(--create); }
  #replicas-mode { text-transform: none; letter-spacing: 0; font-size: 13px; font-weight: 400; }
`;

export const REPLICAS_PANEL_JS = String.raw`
  var replicasBusy = false;

  function age(ms) {
    if (ms === undefined || ms === null) return '\u2013';
    var s = Math.round(ms / 1000);
    return s < 1 ? '< 1 s ago' : s < 120 ? s + ' s ago' : Math.round(s / 60) + ' min ago';
  }
  function uptime(iso) {
    if (!iso) return '\u2013';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 120 ? s + ' s' : s < 7200 ? Math.round(s / 60) + ' min' : s < 172800 ? Math.round(s / 3600) + ' h' : Math.round(s / 86400) + ' d';
  }
  function orDash(v) { return v === undefined || v === null ? '\u2013' : String(v); }

  function modeBadge(mode, text, title) {
    return el('span', { class: 'badge m-' + mode, 'data-field': 'mode', title: title, text: text });
  }

  function renderReplicas(d) {
    var box = $('replicas');
    var head = $('replicas-mode');
    head.textContent = '';
    $('replicas-note').className = 'banner';
    if (!d.clustered) {
      box.setAttribute('data-mode', 'single');
      head.appendChild(modeBadge('single', 'single process', 'no cluster.redis in the config: this gateway shares nothing with others'));
      $('replicas-note').textContent = 'Single process: no cluster is configured (cluster.redis), so there are no other replicas to show.';
      show('replicas-note', true);
      show('replicas-card', false);
      return;
    }
    box.setAttribute('data-mode', d.mode);
    head.appendChild(d.mode === 'shared'
      ? modeBadge('shared', 'shared \u00b7 Redis up', 'this replica reaches Redis: circuits, limits and the fleet view are shared')
      : modeBadge('local', 'local \u00b7 Redis unreachable', 'this replica cannot reach Redis: it runs on its own circuits and its share of each limit, and sees only itself'));
    var ids = d.replicas.map(function (r) { return r.id; });
    var note = d.mode === 'local' ? 'Redis is unreachable from this replica: the list shows only this replica until it is back.'
      : ids.indexOf(d.replica_id) < 0 ? 'This replica (' + d.replica_id + ') has not published its snapshot yet.' : '';
    $('replicas-note').textContent = note;
    show('replicas-note', note !== '');
    var body = $('replicas-table').tBodies[0];
    body.textContent = '';
    d.replicas.forEach(function (r) {
      var id = 'replica>' + r.id;
      var open = r.open_circuits || [];
      var inUse = r.in_use_adapters;
      body.appendChild(el('tr', { 'data-replica': r.id, class: r.self ? 'self' : null }, [
        el('td', {}, [el('b', { 'data-field': 'id', text: r.id }), r.self ? el('span', { class: 'badge self', 'data-field': 'self', text: 'this replica' }) : null]),
        el('td', { class: 'num', 'data-field': 'last_seen', title: r.last_seen, text: age(r.last_seen_ms_ago) }),
        el('td', {}, [r.mode ? el('span', { class: 'badge m-' + r.mode, text: r.mode }) : el('span', { class: 'muted', text: '\u2013' })]),
        val('td', id + '|config_version', orDash(r.config_version), { class: 'num' }),
        el('td', { class: 'num', 'data-field': 'up', title: r.started_at || null, text: uptime(r.started_at) }),
        val('td', id + '|pools', orDash(r.pools), { class: 'num' }),
        val('td', id + '|in_use_adapters', orDash(inUse), { class: 'num' }),
        val('td', id + '|in_flight', orDash(r.in_flight), { class: 'num' }),
        val('td', id + '|open_circuits', r.open_circuits ? String(open.length) : '\u2013', { class: 'num' + (open.length > 0 ? ' bad' : ''), title: open.length ? open.join(', ') : null }),
      ]));
    });
    show('replicas-card', true);
  }

  async function refreshReplicas() {
    if (replicasBusy) return;
    replicasBusy = true;
    try {
      renderReplicas(await getData('/v1/pool/status?scope=cluster'));
    } catch (e) {
      $('replicas-note').className = 'banner error';
      $('replicas-note').textContent = 'Replicas unavailable: ' + (e && e.message ? e.message : String(e));
      show('replicas-note', true);
    } finally {
      replicasBusy = false;
    }
  }

  panels.push(refreshReplicas);
`;
