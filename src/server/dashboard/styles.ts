/** The dashboard's stylesheet (inlined into the page; no backtick and no dollar-brace below: it is a String.raw template). */
export const DASHBOARD_CSS = String.raw`
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
  .tile { background: #243041; border-radius: 8px; padding: 3px 9px; min-width: 64px; cursor: default; }
  .tile .v { font-size: 16px; font-weight: 650; font-variant-numeric: tabular-nums; }
  .tile .k { font-size: 10.5px; color: #aab6c5; text-transform: uppercase; letter-spacing: .4px; }
  .tile.bad { background: #5a1f1a; }
  .tile.bad .v { color: #ffb4ab; }
  .tile.model .k { text-transform: none; letter-spacing: 0; }
  .controls { display: flex; gap: 8px; align-items: center; }
  button { font: inherit; border: 1px solid #4a5a70; background: #2c3a4f; color: #fff; padding: 6px 12px; border-radius: 6px; cursor: pointer; }
  button:hover { background: #3a4c66; }
  button:disabled { opacity: .6; cursor: progress; }
  button.primary { background: #2f6fdf; border-color: #2f6fdf; }
  main { padding: 16px 20px 40px; max-width: 1600px; margin: 0 auto; }
  h2 { font-size: 15px; margin: 18px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: .6px; display: flex; gap: 12px; align-items: baseline; flex-wrap: wrap; }
  h2 select { font: 13px system-ui, sans-serif; text-transform: none; letter-spacing: 0; padding: 3px 6px; border-radius: 6px; border: 1px solid var(--line); background: #fff; }
  .banner { margin: 12px 0 0; padding: 10px 14px; border-radius: 8px; background: #e8f1ff; border: 1px solid #b9d2fb; }
  .banner.error { background: #fdecea; border-color: #f5b8b2; }
  .banner.ok { background: #e7f6ec; border-color: #a9dcb9; }
  .hidden { display: none !important; }
  .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 12px; }
  .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 12px; }
  .card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 12px 14px; min-width: 0; }
  .card.chart { padding: 10px 12px 6px; }
  .card.chart h3 { font-size: 13.5px; margin: 0 0 4px; }
  .chart svg { display: block; width: 100%; height: auto; }
  .chart svg text { font: 10px system-ui, sans-serif; fill: var(--muted); }
  .legend { display: flex; flex-wrap: wrap; gap: 2px 12px; font-size: 11.5px; color: var(--muted); min-height: 17px; }
  .legend span { display: inline-flex; align-items: center; gap: 4px; font-variant-numeric: tabular-nums; }
  .legend i { width: 12px; height: 3px; border-radius: 2px; display: inline-block; }
  .scroll { overflow-x: auto; }
  .card th, .card td { padding: 3px 5px; }
  .card h3 { margin: 0 0 8px; font-size: 15px; display: flex; justify-content: space-between; gap: 8px; align-items: baseline; }
  .card h3 .key { overflow-wrap: anywhere; }
  .meters { display: grid; grid-template-columns: 1fr 1fr; gap: 10px; margin-bottom: 10px; }
  .meter .label, .barlabel { display: flex; justify-content: space-between; font-size: 12px; color: var(--muted); }
  .meter .label b { color: var(--ink); font-variant-numeric: tabular-nums; }
  .bar { height: 8px; background: #e9edf2; border-radius: 4px; overflow: hidden; display: flex; }
  .bar > span { display: block; height: 100%; }
  .states { display: flex; flex-wrap: wrap; gap: 6px 12px; font-size: 12px; margin: 8px 0; }
  .states span { display: inline-flex; align-items: center; gap: 4px; font-variant-numeric: tabular-nums; }
  .dot { width: 9px; height: 9px; border-radius: 50%; display: inline-block; }
  table { width: 100%; border-collapse: collapse; font-size: 12.5px; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 600; font-size: 11.5px; text-transform: uppercase; letter-spacing: .3px; }
  th[title] { text-decoration: underline dotted; cursor: help; }
  td.num, th.num { text-align: right; }
  td.bad { color: var(--bad); font-weight: 650; }
  .tablecard { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 6px 10px; overflow-x: auto; }
  .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 11.5px; font-weight: 600; color: #fff; }
  .s-idle, .c-closed { background: var(--ok); }
  .s-in_use { background: var(--busy); }
  .s-unhealthy, .c-open { background: var(--bad); }
  .s-checking { background: var(--check); }
  .s-creating, .s-closing { background: var(--create); }
  .c-half_open { background: var(--warn); }
  .muted { color: var(--muted); }
  .note { font-size: 12px; color: var(--muted); margin: 4px 0 0; }
  .changed { animation: flash 1.2s ease-out; }
  @keyframes flash { from { background: #fff3b0; } to { background: transparent; } }
  .tile .changed { animation: flash-dark 1.2s ease-out; }
  @keyframes flash-dark { from { color: #ffd54a; } to { color: #fff; } }
  form.auth { display: flex; gap: 8px; margin-top: 8px; }
  form.auth input { font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 280px; }
`;
