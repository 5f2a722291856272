// Models: every model/version with traffic, p50/p99, error rate, drift and quality verdicts,
// last seen, sparklines. The table paints from one answer (/api/models); the drift and
// data-quality verdicts fill in afterwards, a few at a time, from /api/verdict.
"use strict";
(async () => {
  const { el, api, fmt, pct, time, table, sparkline, card, failure, href, params, setParams } = DL;
  const app = document.getElementById("app");
  const since = params().get("since") || "24h";
  const picker = el("select", { name: "since", onchange: (e) => { setParams({ since: e.target.value }); location.reload(); } },
    ["1h", "6h", "24h", "7d", "30d"].map((s) => el("option", { value: s, selected: s === since }, s)));
  app.replaceChildren(el("div", { class: "toolbar" }, el("h1", { text: "Models" }), el("label", {}, "last ", picker)));
  let answer;
  try {
    answer = await api("models", { since });
  } catch (error) {
    app.append(failure(error));
    document.body.dataset.painted = "1";
    return;
  }
  const rows = answer.models.map((m) => ({ ...m, key: `${m.model}::${m.version}` }));
  const verdicts = new Map();
  const columns = [
    { key: "model", label: "model", render: (r) => el("a", { href: href("/model", { model: r.model, version: r.version }) }, r.model) },
    { key: "version", label: "version" },
    { key: "inferences", label: "inferences", num: true },
    { key: "traffic", label: `traffic (${since})`, sortable: false,
      render: (r) => el("span", { class: "chart", "data-name": `traffic ${r.model} ${r.version}` }, sparkline(r.spark ? r.spark.count : [])) },
    { key: "p50_ms", label: "p50 ms", num: true },
    { key: "p99_ms", label: "p99 ms", num: true },
    { key: "p99", label: "p99 trend", sortable: false,
      render: (r) => el("span", { class: "chart", "data-name": `p99 ${r.model} ${r.version}` }, sparkline(r.spark ? r.spark.p99_ms : [], DL.COLORS[1])) },
    { key: "error_rate", label: "error rate", num: true, fmt: pct },
    { key: "drift", label: "drift", sortable: false, render: (r) => el("span", { class: "verdict pending", "data-verdict": r.key }, "…") },
    { key: "quality", label: "quality", sortable: false, render: (r) => el("span", { class: "verdict pending", "data-quality": r.key }, "…") },
    { key: "last_seen", label: "last seen", fmt: time },
  ];
  if (!rows.length) {
    app.append(card("No models yet", DL.notice(`No inference spans in the last ${since}. Send spans with ml.model.name (see the README).`)));
    document.body.dataset.painted = document.body.dataset.verdicts = "1";
    return;
  }
  const grid = table(columns, rows, { sortParam: "sort" });
  app.append(el("section", { class: "card", "data-name": "models" }, grid));
  document.body.dataset.painted = "1";
  document.body.dataset.paintedAt = String(performance.now());  // read by bench/console_bench.py

  function show(key) {
    const v = verdicts.get(key);
    for (const node of document.querySelectorAll(`[data-verdict="${CSS.escape(key)}"]`)) {
      node.className = `verdict ${v.drift === "drift" ? "bad" : v.drift === "ok" ? "good" : "na"}`;
      node.textContent = v.drift === "drift" ? `drift (${v.drifted}/${v.features})` : v.drift;
      node.title = v.reason || `share of drifted features ${fmt(v.share)}`;
    }
    for (const node of document.querySelectorAll(`[data-quality="${CSS.escape(key)}"]`)) {
      node.className = `verdict ${v.quality === "issues" ? "bad" : v.quality === "ok" ? "good" : "na"}`;
      node.textContent = v.quality === "issues" ? `issues (${v.quality_flagged.length})` : v.quality || "n/a";
      node.title = v.quality_reason || (v.quality_flagged || []).join(", ");
    }
  }
  const queue = [...rows];
  async function worker() {
    while (queue.length) {
      const row = queue.shift();
      try {
        verdicts.set(row.key, await api("verdict", { model: row.model, version: row.version }));
      } catch (error) {
        verdicts.set(row.key, { drift: "error", reason: String(error.message), quality: "error" });
      }
      show(row.key);
    }
  }
  await Promise.all([worker(), worker(), worker()]);
  document.body.dataset.verdicts = "1";
  document.body.dataset.verdictsAt = String(performance.now());
})();
