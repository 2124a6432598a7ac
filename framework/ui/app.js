// The trex dashboard: a runs table over /api/runs, comparisons, sweeps and run
// pages. Plain JavaScript and uPlot; everything it shows comes from the JSON API.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { offset: 0, limit: 50, sort: "", selected: new Set(), columns: [] };
window.trexCharts = [];  // uPlot instances on screen (the browser test reads them)

async function api(path) {
  const res = await fetch(path);
  const body = await res.json();
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick" || k === "onchange") e[k] = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c == null ? "" : String(c)));
  return e;
}

function quote(v) { return "'" + String(v).replaceAll("'", "''") + "'"; }

function showError(err) {
  $("error").hidden = !err;
  $("error").textContent = err ? String(err.message || err) : "";
}

function formatCell(column, v) {
  if (v === null || v === undefined) return "";
  if (column === "start_time" || column === "end_time") return new Date(v * 1000).toLocaleString();
  if (column === "duration") return Math.round(v) + " s";
  if (typeof v === "number" && !Number.isInteger(v)) return v.toPrecision(4);
  return String(v);
}

function whereClause() {
  const parts = [];
  if ($("f-experiment").value) parts.push("experiment = " + quote($("f-experiment").value));
  if ($("f-sweep").value) parts.push("sweep = " + quote($("f-sweep").value));
  if ($("f-status").value) parts.push("status = " + quote($("f-status").value));
  const free = $("f-where").value.trim();
  if (free) parts.push("(" + free + ")");
  return parts.join(" and ");
}

function clearCharts(container) {
  window.trexCharts = window.trexCharts.filter((c) => {
    if (container.contains(c.root)) { c.destroy(); return false; }
    return true;
  });
  container.replaceChildren();
}

// One chart: x values shared, one y array per series (null where missing).
function lineChart(container, title, xLabel, series) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const data = [xs, ...series.map((s) => {
    const m = new Map(s.points.map((p) => [p[0], p[1]]));
    return xs.map((x) => (m.has(x) ? m.get(x) : null));
  })];
  const colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"];
  const box = el("div", { class: "chart", "data-title": title }, el("h4", {}, title));
  container.append(box);
  const chart = new uPlot({
    width: 460, height: 260,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, {}],
    series: [{ label: xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], spanGaps: true }))],
  }, data, box);
  window.trexCharts.push(chart);
  return chart;
}

function scatterChart(container, title, xLabel, points) {
  points.sort((a, b) => a[0] - b[0]);
  const box = el("div", { class: "chart", "data-title": title }, el("h4", {}, title));
  container.append(box);
  const chart = new uPlot({
    width: 460, height: 300, scales: { x: { time: false } }, axes: [{ label: xLabel }, {}],
    series: [{ label: xLabel }, { label: "objective", stroke: "#1f77b4", paths: () => null, points: { show: true, size: 7 } }],
  }, [points.map((p) => p[0]), points.map((p) => p[1])], box);
  window.trexCharts.push(chart);
}

// --- runs table ---------------------------------------------------------------
async function loadRuns() {
  const params = new URLSearchParams({ where: whereClause(), sort: state.sort, limit: state.limit, offset: state.offset });
  if ($("f-columns").value.trim()) params.set("columns", $("f-columns").value.trim());
  let body;
  try {
    body = await api("/api/runs?" + params);
    showError(null);
  } catch (e) {
    showError(e);
    return;
  }
  state.columns = body.columns;
  if (!$("f-columns").value) $("f-columns").value = body.columns.join(",");
  const head = el("tr", {}, el("th", {}, ""));
  for (const c of body.columns) {
    const sorted = state.sort.replace(/^-/, "") === c ? (state.sort.startsWith("-") ? "sorted-desc" : "sorted-asc") : "";
    head.append(el("th", { class: sorted, "data-column": c, onclick: () => {
      state.sort = state.sort === "-" + c ? c : "-" + c;
      state.offset = 0;
      loadRuns();
    } }, c));
  }
  $("runs").tHead.replaceChildren(head);
  const idIndex = body.columns.indexOf("id");
  const rows = body.rows.map((r) => {
    const id = idIndex >= 0 ? r[idIndex] : null;
    const box = el("input", { type: "checkbox", "data-run": id ?? "" });
    box.checked = state.selected.has(id);
    box.onchange = () => { box.checked ? state.selected.add(id) : state.selected.delete(id); updateCompare(); };
    const tr = el("tr", { "data-run": id ?? "" }, el("td", {}, box));
    body.columns.forEach((c, i) => {
      const text = formatCell(c, r[i]);
      tr.append(el("td", {}, c === "id" ? el("a", { href: "#run/" + r[i] }, text) : text));
    });
    return tr;
  });
  $("runs").tBodies[0].replaceChildren(...rows);
  $("count").textContent = `${body.total} runs`;
  $("count").dataset.total = body.total;
  const pages = Math.max(1, Math.ceil(body.total / state.limit));
  $("page").textContent = ` page ${Math.floor(state.offset / state.limit) + 1} of ${pages} `;
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + state.limit >= body.total;
  updateCompare();
  loadSweep();
}

function updateCompare() {
  $("compare").disabled = state.selected.size < 2;
}

async function loadSweep() {
  const id = $("f-sweep").value;
  $("sweep-view").hidden = !id;
  if (!id) return;
  const sweep = await api("/api/sweeps/" + encodeURIComponent(id));
  $("sweep-title").textContent = `${sweep.name} (${sweep.method}, ${sweep.state}) objective ${sweep.objective.mode} ${sweep.objective.metric}`;
  const select = $("sweep-param");
  if (select.dataset.sweep !== id) {
    select.replaceChildren(...sweep.parameters.map((p) => el("option", { value: p }, p)));
    select.dataset.sweep = id;
    select.onchange = loadSweep;
  }
  const key = select.value;
  const done = sweep.trials.filter((t) => t.objective !== null);
  const values = done.map((t) => t.params[key]);
  const numeric = values.every((v) => !isNaN(Number(v)));
  const cats = [...new Set(values)];
  const points = done.map((t) => [numeric ? Number(t.params[key]) : cats.indexOf(t.params[key]), t.objective]);
  clearCharts($("sweep-chart"));
  scatterChart($("sweep-chart"), `${key} vs ${sweep.objective.metric}` + (numeric ? "" : ` (${cats.join(", ")})`), key, points);
}

// --- compare --------------------------------------------------------------------
async function showCompare(ids) {
  const body = await api("/api/compare?ids=" + encodeURIComponent(ids.join(",")));
  $("compare-title").textContent = body.ids.join(", ");
  const head = el("tr", {}, el("th", {}, "parameter"), ...body.labels.map((l, i) => el("th", { title: body.ids[i] }, body.ids[i])));
  const rows = body.params.map((p) => el("tr", { "data-key": p.key }, el("td", {}, p.key), ...p.values.map((v) => el("td", {}, v))));
  $("diff").replaceChildren(head, ...rows);
  clearCharts($("compare-charts"));
  for (const [key, perRun] of Object.entries(body.metrics)) {
    lineChart($("compare-charts"), key, "epoch", perRun.map((points, i) => ({ label: body.labels[i], points })));
  }
}

// --- one run ------------------------------------------------------------------------
let liveTimer = null;
async function showRun(id) {
  const [run, m] = await Promise.all([api("/api/runs/" + encodeURIComponent(id)), api("/api/runs/" + encodeURIComponent(id) + "/metrics")]);
  $("run-title").textContent = `${run.id} (${run.name})`;
  $("run-status").textContent = run.status + (run.error ? ` (${run.error})` : "");
  const names = new Set(Object.keys(m.series).map((k) => k.split("_").slice(1).join("_")));
  clearCharts($("run-charts"));
  for (const name of names) {
    const series = ["train", "val", "test"].filter((s) => m.series[s + "_" + name])
      .map((s) => ({ label: s, points: m.series[s + "_" + name] }));
    lineChart($("run-charts"), name, "epoch", series);
  }
  const keys = Object.keys(m.series).filter((k) => !k.startsWith("test_"));
  const epochs = [...new Set(keys.flatMap((k) => m.series[k].map((p) => p[0])))].sort((a, b) => a - b);
  const lr = new Map(m.lr.map((p) => [p[0], p[1]]));
  const head = el("tr", {}, el("th", {}, "epoch"), ...keys.map((k) => el("th", {}, k)), el("th", {}, "lr"));
  const rows = epochs.map((e) => el("tr", {}, el("td", {}, e), ...keys.map((k) => {
    const p = m.series[k].find((q) => q[0] === e);
    return el("td", {}, p ? p[1].toPrecision(4) : "");
  }), el("td", {}, lr.has(e) ? lr.get(e).toPrecision(3) : "")));
  $("run-epochs").replaceChildren(head, ...rows);
  $("run-report").replaceChildren(...run.report.map((p) => el("img", { src: "/files/" + p, alt: p })));
  if (!run.report.length) $("run-report").textContent = "no report yet (trex report " + run.id + ")";
  $("run-artifacts").replaceChildren(...run.artifacts.map((a) => el("li", {}, a.kind + ": ", el("a", { href: "/files/" + a.path }, a.path))));
  $("run-spec").textContent = run.spec_yaml;
  clearTimeout(liveTimer);
  $("run-live").textContent = run.status === "running" ? "(live: refreshing every 2 s)" : "";
  if (run.status === "running") liveTimer = setTimeout(() => { if (location.hash === "#run/" + id) showRun(id); }, 2000);
}

// --- routing ----------------------------------------------------------------------
async function route() {
  const hash = decodeURIComponent(location.hash.slice(1));
  const [view, arg] = [hash.split("/")[0], hash.split("/").slice(1).join("/")];
  $("runs-view").hidden = view === "compare" || view === "run";
  $("compare-view").hidden = view !== "compare";
  $("run-view").hidden = view !== "run";
  try {
    if (view === "compare") await showCompare(arg.split(","));
    else if (view === "run") await showRun(arg);
    else await loadRuns();
  } catch (e) {
    showError(e);
  }
  document.body.dataset.ready = "1";
}

async function init() {
  const fields = await api("/api/fields");
  $("f-experiment").append(...fields.experiments.map((e) => el("option", { value: e }, e)));
  $("f-status").append(...fields.statuses.map((s) => el("option", { value: s }, s)));
  const sweeps = await api("/api/sweeps");
  $("f-sweep").append(...sweeps.map((s) => el("option", { value: s.id }, `${s.name} ${s.id}`)));
  $("filters").onsubmit = (ev) => { ev.preventDefault(); state.offset = 0; loadRuns(); };
  for (const id of ["f-experiment", "f-sweep", "f-status"]) $(id).onchange = () => { state.offset = 0; loadRuns(); };
  $("prev").onclick = () => { state.offset = Math.max(0, state.offset - state.limit); loadRuns(); };
  $("next").onclick = () => { state.offset += state.limit; loadRuns(); };
  $("compare").onclick = () => { location.hash = "compare/" + [...state.selected].join(","); };
  window.addEventListener("hashchange", route);
  await route();
}

init().catch(showError);
