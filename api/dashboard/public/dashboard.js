/* ADOS dashboard: polls the API once a second (answers are shared server-side, one status query per
 * tenant per second however many pages are open) and draws with uPlot. The token comes in the URL's
 * fragment (#token=…), which browsers never send to a server, and stays in this tab's sessionStorage. */
(function () {
  'use strict';
  const POLL_MS = 1000;
  const view = document.getElementById('view');
  const updated = document.getElementById('updated');
  const who = document.getElementById('who');
  let timer;
  let chart;
  let sort = { key: 'utilization', desc: true };

  const fragment = new URLSearchParams(
    location.hash.replace(/^#\/?/, '').includes('token=') ? location.hash.slice(1) : '',
  );
  if (fragment.get('token')) {
    sessionStorage.setItem('adosToken', fragment.get('token'));
    history.replaceState(
      null,
      '',
      location.pathname + (fragment.get('tenant') ? `#/tenant/${fragment.get('tenant')}` : '#/'),
    );
  }
  const token = sessionStorage.getItem('adosToken');

  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const usd = (x) => `$${Number(x).toFixed(6)}`;
  const pct = (x) => `${(x * 100).toFixed(2)}%`;
  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '—');

  async function api(path) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw Object.assign(new Error(body.message || res.statusText), { status: res.status });
    return body;
  }

  function fail(err) {
    view.innerHTML = `<section class="wide"><p class="error" data-testid="error" data-status="${esc(err.status || '')}">${esc(err.status || '')} ${esc(err.message)}</p></section>`;
  }

  function table(rows, columns, testid) {
    if (rows.length === 0) return '<p class="muted">none</p>';
    return `<table data-testid="${testid}"><thead><tr>${columns
      .map((c) => `<th class="${c.num ? 'num' : ''}" ${c.sort ? `data-sort="${c.sort}"` : ''}>${esc(c.title)}</th>`)
      .join('')}</tr></thead><tbody>${rows
      .map(
        (r) =>
          `<tr ${r.attrs || ''}>${columns.map((c) => `<td class="${c.num ? 'num' : ''}">${c.cell(r)}</td>`).join('')}</tr>`,
      )
      .join('')}</tbody></table>`;
  }

  function breakdown(title, group, testid) {
    const rows = Object.entries(group)
      .sort((a, b) => b[1] - a[1])
      .map(([key, value]) => ({ key, value, attrs: `data-key="${esc(key)}" data-usd="${value}"` }));
    return `<section><h2>${esc(title)}</h2>${table(
      rows,
      [
        { title: 'name', cell: (r) => esc(r.key) },
        { title: 'spent', num: true, cell: (r) => usd(r.value) },
      ],
      testid,
    )}</section>`;
  }

  // ── The admin's view: every tenant ────────────────────────────────────────────────────────────
  async function overview() {
    const data = await api('/v1/dashboard');
    if (data.role === 'tenant') return (location.hash = `#/tenant/${data.tenants[0].tenantId}`);
    who.textContent = 'admin · all tenants';
    const rows = [...data.tenants].sort((a, b) => {
      const d = a[sort.key] < b[sort.key] ? -1 : a[sort.key] > b[sort.key] ? 1 : 0;
      return sort.desc ? -d : d;
    });
    view.innerHTML = `<section class="wide"><h2>Tenants</h2>${table(
      rows.map((t) => ({ ...t, attrs: `data-tenant="${esc(t.tenantId)}"` })),
      [
        {
          title: 'tenant',
          sort: 'tenantId',
          cell: (t) => `<a href="#/tenant/${esc(t.tenantId)}">${esc(t.tenantId)}</a>`,
        },
        {
          title: 'status',
          sort: 'budgetStatus',
          cell: (t) => `<span class="badge ${esc(t.budgetStatus)}">${esc(t.budgetStatus)}</span>`,
        },
        { title: 'spent', num: true, sort: 'spentUsd', cell: (t) => usd(t.spentUsd) },
        { title: 'budget', num: true, sort: 'budgetUsd', cell: (t) => usd(t.budgetUsd) },
        { title: 'utilization', num: true, sort: 'utilization', cell: (t) => pct(t.utilization) },
        { title: 'burn / hour', num: true, sort: 'burnRateUsdPerHour', cell: (t) => usd(t.burnRateUsdPerHour) },
        { title: 'runs in flight', num: true, sort: 'runsInFlight', cell: (t) => t.runsInFlight },
        { title: 'waiting', num: true, sort: 'runsWaiting', cell: (t) => t.runsWaiting },
      ],
      'tenants',
    )}</section>`;
    for (const th of view.querySelectorAll('th[data-sort]'))
      th.addEventListener('click', () => {
        const key = th.getAttribute('data-sort');
        sort = { key, desc: sort.key === key ? !sort.desc : true };
        refresh();
      });
  }

  // ── One tenant ────────────────────────────────────────────────────────────────────────────────
  function drawChart(d) {
    const el = document.getElementById('spend-chart');
    const xs = d.spendSeries.map((p) => Date.parse(p.at) / 1000);
    const now = Date.parse(d.at) / 1000;
    xs.push(now);
    const spent = d.spendSeries.map((p) => p.spentUsd).concat([d.spentUsd]);
    const budget = xs.map(() => d.budgetUsd);
    const data = [xs, spent, budget];
    const width = el.clientWidth || 800;
    if (chart && chart.root.parentNode === el) {
      chart.setData(data);
      return;
    }
    el.innerHTML = '';
    chart = new uPlot(
      {
        width,
        height: 240,
        series: [
          {},
          { label: 'spent (cumulative)', stroke: '#58a6ff', width: 2, fill: 'rgba(88,166,255,0.15)' },
          { label: 'budget', stroke: '#f85149', dash: [6, 4], width: 1.5 },
        ],
        axes: [{ stroke: '#8a96a3' }, { stroke: '#8a96a3', values: (u, ticks) => ticks.map((t) => `$${t}`) }],
      },
      data,
      el,
    );
  }

  async function tenant(tenantId) {
    const d = await api(`/v1/tenants/${encodeURIComponent(tenantId)}/dashboard`);
    who.textContent = `tenant ${d.tenantId}`;
    const color = { HEALTHY: '--healthy', WARNING: '--warning', CRITICAL: '--critical', EXCEEDED: '--exceeded' }[
      d.budgetStatus
    ];
    const learning = d.learning;
    const html = `
      <section data-testid="budget-panel">
        <h2>Budget</h2>
        <div><span class="badge ${esc(d.budgetStatus)}" data-testid="budget-status">${esc(d.budgetStatus)}</span>
          <span class="muted">${esc(d.period)} · ${time(d.periodStart)} → ${time(d.periodEnd)}</span></div>
        <div class="gauge"><div style="width:${Math.min(100, d.utilization * 100)}%;background:var(${color})"></div></div>
        <div class="big"><span data-testid="spent" data-usd="${d.spentUsd}">${usd(d.spentUsd)}</span>
          <span class="muted">of</span> <span data-testid="budget" data-usd="${d.budgetUsd}">${usd(d.budgetUsd)}</span>
          <span class="muted">(${pct(d.utilization)})</span></div>
        <div class="muted">reserved ${usd(d.reservedUsd)} · committed to runs in flight ${usd(d.committedUsd)}</div>
        <div>burn <b data-testid="burn">${usd(d.burnRateUsdPerHour)}</b>/hour · projected exhaustion
          <b data-testid="exhaustion">${d.projectedExhaustionAt ? time(d.projectedExhaustionAt) : 'not this period'}</b></div>
      </section>
      <section>
        <h2>Runs</h2>
        <div class="big"><span data-testid="runs-in-flight" data-count="${d.runsInFlight.length}">${d.runsInFlight.length}</span>
          <span class="muted">in flight of ${d.maxConcurrentRuns} ·</span>
          <span data-testid="runs-waiting" data-count="${d.runsWaiting.length}">${d.runsWaiting.length}</span> <span class="muted">waiting</span></div>
        ${table(
          d.byPriority.map(([p, f, w]) => ({ p, f, w })),
          [
            { title: 'priority', cell: (r) => r.p },
            { title: 'in flight', num: true, cell: (r) => r.f },
            { title: 'waiting', num: true, cell: (r) => r.w },
          ],
          'runs-by-priority',
        )}
        <p><a href="${esc(d.webUiUrl)}" target="_blank" rel="noopener">runs in the Temporal Web UI</a></p>
      </section>
      <section class="wide"><h2>Spend over time</h2><div id="spend-chart"></div></section>
      ${breakdown('Spend by category', d.spendByCategory, 'by-category')}
      ${breakdown('Spend by model', d.spendByModel, 'by-model')}
      ${breakdown('Spend by tag', d.spendByTag, 'by-tag')}
      <section class="wide">
        <h2>CostAgent decisions</h2>
        ${table(
          d.decisions,
          [
            {
              title: 'run',
              cell: (r) => `<a href="${esc(r.webUiUrl)}" target="_blank" rel="noopener">${esc(r.runId)}</a>`,
            },
            { title: 'decision', cell: (r) => esc(r.status) },
            { title: 'reason', cell: (r) => esc(r.reason) },
            { title: 'at', cell: (r) => time(r.at) },
          ],
          'decisions',
        )}
      </section>
      <section class="wide" data-testid="predictions">
        <h2>Predicted against actual</h2>
        <div class="muted">each finished run's projection at its start (from the same estimates as its quote) against what it cost${
          d.predictions.medianErrorPct !== undefined
            ? ` · median error <b data-testid="median-error">${d.predictions.medianErrorPct}%</b> over ${d.predictions.runs.length} runs`
            : ''
        }</div>
        ${table(
          d.predictions.runs.map((r) => ({ ...r, attrs: `data-run="${esc(r.runId)}"` })),
          [
            { title: 'run', cell: (r) => esc(r.runId) },
            { title: 'projected', num: true, cell: (r) => usd(r.projectedUsd) },
            { title: 'actual', num: true, cell: (r) => usd(r.actualUsd) },
            { title: 'error', num: true, cell: (r) => `${r.errorPct}%` },
          ],
          'prediction-runs',
        )}
      </section>
      <section>
        <h2>Alerts</h2>
        ${table(
          d.alerts,
          [
            { title: 'type', cell: (a) => esc(a.type) },
            { title: 'status', cell: (a) => esc(a.status) },
            { title: 'last error', cell: (a) => esc(a.lastError || '') },
          ],
          'alerts',
        )}
      </section>
      <section data-testid="learning">
        <h2>Learning</h2>
        <div>intensity <b>${esc(learning.intensity)}</b> · share ${pct(learning.budgetShare)} of the budget</div>
        <div>spent ${usd(learning.learningSpentUsd)} of ${usd(learning.learningBudgetUsd)}</div>
        <div>explored: ${learning.exploredModels.map(esc).join(', ') || 'none'}</div>
        <div>proven: ${learning.preferences.map((p) => `${esc(p.toModel)} for ${esc(p.fromModel)}`).join(', ') || 'none'}</div>
        ${learning.epsilonSpent !== undefined ? `<div>privacy: ε ${learning.epsilonSpent} spent, ${learning.epsilonLeft} left</div>` : ''}
      </section>`;
    view.innerHTML = html;
    chart = undefined;
    drawChart(d);
  }

  async function refresh() {
    clearTimeout(timer);
    if (!token) {
      view.innerHTML =
        '<section class="wide"><p>Open this page with <code>#token=&lt;your ADOS token&gt;</code>.</p></section>';
      return;
    }
    const match = /^#\/tenant\/([^/]+)$/.exec(location.hash);
    try {
      if (match) await tenant(decodeURIComponent(match[1]));
      else await overview();
      updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
      updated.setAttribute('data-at', new Date().toISOString());
    } catch (err) {
      fail(err);
    }
    timer = setTimeout(refresh, POLL_MS);
  }

  window.addEventListener('hashchange', refresh);
  refresh();
})();
