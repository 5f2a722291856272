// Runs: an MLflow-style table (filter box in MLflow's search grammar, sortable metric and
// param columns); tick runs and compare their params and metric-over-step curves.
"use strict";
(async () => {
  const { el, api, fmt, time, table, card, notice, failure, searchForm, params, setParams, lineChart } = DL;
  const app = document.getElementById("app");
  const form = searchForm([
    { name: "filter", label: "filter ", placeholder: "metrics.accuracy > 0.9 and params.lr = '0.01'", size: 48 },
    { name: "experiment", label: "experiment ", size: 14 },
    { name: "order_by", label: "order by ", placeholder: "metrics.loss ASC", size: 18 },
  ], () => location.reload());
  const results = el("div", {});
  app.replaceChildren(el("h1", { text: "Runs" }), el("section", { class: "card" }, form), results);
  const p = params();
  const chosen = new Set((p.get("compare") || "").split(",").filter(Boolean));

  let answer;
  try {
    answer = await api("runs", { filter: p.get("filter"), experiment: p.get("experiment"), order_by: p.get("order_by") });
  } catch (error) {
    results.append(card("Runs", failure(error)));
    document.body.dataset.painted = "1";
    return;
  }
  const runs = answer.runs;
  const paramKeys = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metricKeys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const rows = runs.map((r) => ({
    ...r,
    ...Object.fromEntries(paramKeys.map((k) => [`params.${k}`, r.params[k] ?? null])),
    ...Object.fromEntries(metricKeys.map((k) => [`metrics.${k}`, r.metrics[k] ? r.metrics[k].latest : null])),
  }));
  const compareButton = el("button", { type: "button", onclick: () => { setParams({ compare: [...chosen].join(",") }); location.reload(); } }, "Compare selected");
  const columns = [
    { key: "pick", label: "", sortable: false, render: (r) => el("input", { type: "checkbox", checked: chosen.has(r.run_id), "data-run": r.run_id,
        onchange: (e) => { e.target.checked ? chosen.add(r.run_id) : chosen.delete(r.run_id); } }) },
    { key: "run_name", label: "run" },
    { key: "run_id", label: "id", fmt: (v) => v.slice(0, 8) },
    { key: "experiment" },
    { key: "status", render: (r) => el("span", { class: `status ${r.status.toLowerCase()}` }, r.status) },
    { key: "start_time_unix_nano", label: "started", fmt: time },
    ...paramKeys.map((k) => ({ key: `params.${k}`, label: `params.${k}` })),
    ...metricKeys.map((k) => ({ key: `metrics.${k}`, label: `metrics.${k}`, num: true })),
  ];
  const list = card(`${runs.length} runs`, el("div", { id: "runs-table" }, table(columns, rows, { sortParam: "sort" })), compareButton);
  results.append(list);
  if (!runs.length) list.append(notice("no runs match"));
  if (chosen.size) await compare([...chosen]);
  document.body.dataset.painted = "1";

  async function compare(ids) {
    const target = card("Compare runs");
    results.append(target);
    let detail;
    try {
      detail = await api("compare", { run: ids });
    } catch (error) {
      return target.append(failure(error));
    }
    const found = detail.runs;
    const keys = [...new Set(found.flatMap((r) => Object.keys(r.params)))].sort();
    const paramRows = keys.map((k) => {
      const values = found.map((r) => r.params[k] ?? null);
      return { param: k, differs: new Set(values).size > 1, ...Object.fromEntries(found.map((r, i) => [r.run_id, values[i]])) };
    });
    target.append(el("h3", { text: "Params" }), el("div", { id: "params-table" }, table(
      [{ key: "param" }, ...found.map((r) => ({ key: r.run_id, label: r.run_name || r.run_id.slice(0, 8) }))],
      paramRows, { rowClass: (r) => (r.differs ? "differs" : "") })));
    const metricNames = [...new Set(Object.values(detail.metrics).flatMap((ms) => ms.map((m) => m.key)))].sort();
    const charts = el("div", { class: "charts" });
    target.append(el("h3", { text: "Metrics by step" }), charts);
    for (const key of metricNames) {
      const steps = [...new Set(found.flatMap((r) => (detail.metrics[r.run_id].find((m) => m.key === key)?.steps) || []))].sort((a, b) => a - b);
      const series = found.map((r) => {
        const m = detail.metrics[r.run_id].find((h) => h.key === key);
        const at = new Map(m ? m.steps.map((s, i) => [s, m.values[i]]) : []);
        return { label: r.run_name || r.run_id.slice(0, 8), values: steps.map((s) => at.get(s) ?? null) };
      });
      const box = el("div", { class: "chart", "data-name": `metric ${key}` });
      charts.append(el("div", { class: "mini" }, el("h3", { text: key }), box));
      stepChart(box, steps, series);
    }
  }

  function stepChart(box, steps, series) {
    const opts = {
      width: Math.max(320, (box.parentElement.clientWidth || 480) - 8),
      height: 200,
      scales: { x: { time: false } },
      axes: [{ label: "step" }, { size: 60 }],
      series: [{ label: "step" }, ...series.map((s, i) => ({ label: s.label, stroke: DL.COLORS[i % DL.COLORS.length], width: 2, spanGaps: true }))],
    };
    return new uPlot(opts, [steps, ...series.map((s) => s.values)], box);
  }
})();
