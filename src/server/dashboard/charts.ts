/**
 * The dashboard's line charts, drawn by hand in SVG (no library, no CDN). Included in the page's
 * script; defines `drawChart(box, spec)`. No backtick and no dollar-brace below (String.raw template).
 *
 * spec: { id, title, times: number[] (ms, oldest first), series: [{ name, color, values: (number|null)[] }],
 *         format(v): string }. A null value breaks the line (no sample in that slot). The chart's
 * `<svg data-chart=id data-sum=… data-max=…>` lets a test see it move.
 */
export const CHARTS_JS = String.raw`
  var SVGNS = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs, text) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function niceMax(v) {
    if (!(v > 0)) return 1;
    var p = Math.pow(10, Math.floor(Math.log10(v)));
    var m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
  }
  function drawChart(box, spec) {
    var W = 380, H = 130, L = 44, R = 6, T = 6, B = 16;
    var n = spec.times.length;
    var max = 0, sum = 0;
    spec.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null && v !== undefined) { if (v > max) max = v; sum += v; } });
    });
    var top = niceMax(max);
    var x = function (i) { return L + ((W - L - R) * i) / Math.max(1, n - 1); };
    var y = function (v) { return T + (H - T - B) * (1 - v / top); };
    var svg = svgEl('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': spec.title, 'data-chart': spec.id,
      'data-sum': Math.round(sum * 1000) / 1000, 'data-max': Math.round(max * 1000) / 1000 });
    [0, 0.5, 1].forEach(function (f) {
      var yy = y(top * f);
      svg.appendChild(svgEl('line', { x1: L, x2: W - R, y1: yy, y2: yy, stroke: f === 0 ? '#b8c2ce' : '#e6eaef', 'stroke-width': 1 }));
      svg.appendChild(svgEl('text', { x: L - 4, y: yy + 3, 'text-anchor': 'end' }, spec.format(top * f)));
    });
    if (n > 1) {
      var spanMin = Math.round(((spec.times[n - 1] - spec.times[0]) / 60000) * 10) / 10;
      [0, 1 / 3, 2 / 3, 1].forEach(function (f) {
        var i = Math.round((n - 1) * f);
        var ago = Math.round(spanMin * (1 - f) * 10) / 10;
        svg.appendChild(svgEl('text', { x: x(i), y: H - 3, 'text-anchor': f === 0 ? 'start' : f === 1 ? 'end' : 'middle' }, ago === 0 ? 'now' : '\u2212' + ago + ' min'));
      });
    }
    spec.series.forEach(function (s) {
      var d = '';
      var pen = false;
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) { pen = false; return; }
        var px = x(i).toFixed(1), py = y(v).toFixed(1);
        // A lone point gets a dot-sized stroke so a single sample still shows.
        d += pen ? 'L' + px + ' ' + py + ' ' : 'M' + px + ' ' + py + ' l0.1 0 ';
        pen = true;
      });
      if (d) svg.appendChild(svgEl('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': 1.8, 'stroke-linejoin': 'round', 'stroke-linecap': 'round', 'data-series': s.name }));
    });
    var old = box.querySelector('svg');
    if (old) box.replaceChild(svg, old); else box.appendChild(svg);
    var legend = box.querySelector('.legend');
    if (!legend) { legend = document.createElement('div'); legend.className = 'legend'; box.appendChild(legend); }
    legend.textContent = '';
    if (!spec.series.length) legend.appendChild(document.createTextNode(spec.empty || 'nothing yet'));
    spec.series.forEach(function (s) {
      var last = null;
      for (var i = s.values.length - 1; i >= 0; i--) { if (s.values[i] !== null && s.values[i] !== undefined) { last = s.values[i]; break; } }
      var item = document.createElement('span');
      var sw = document.createElement('i');
      sw.style.background = s.color;
      item.appendChild(sw);
      item.appendChild(document.createTextNode(s.name + ' ' + (last === null ? '\u2013' : spec.format(last))));
      legend.appendChild(item);
    });
  }
`;
