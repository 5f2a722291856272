// Model: drift per feature over time (score vs threshold), a feature's reference vs current
// distribution, latency percentiles over time with the SLO, accuracy over time next to the
// CBPE estimate, and the versions side by side. Every section is one or two /api answers.
"use strict";
(async () => {
  const { el, api, fmt, pct, time, table, card, notice, failure, lineChart, barChart, params, setParams, href } = DL;
  const app = document.getElementById("app");
  const p = params();
  const model = p.get("model") || "";
  if (!model) {
    app.replaceChildren(failure("no model given: open a model from the Models page"));
    return;
  }
  const state = {
    model,
    version: p.get("version") || "",
    since: p.get("since") || "1h",
    compare: p.get("compare_since") || "24h",
    feature: p.get("feature") || "",
    slo_ms: p.get("slo_ms") || "",
    slo_target: p.get("slo_target") || "",
  };
  const toSeconds = (key) => (/^\d+$/.test(key) ? Number(key) / 1e9 : new Date(key).getTime() / 1000);
  // Methods whose score is a p-value (drift when below the threshold): drawn on a log scale.
  const P_VALUE_METHODS = new Set(["ks", "chisquare", "z", "fisher_exact", "g_test", "TVD", "anderson", "cramer_von_mises", "mannw", "t_test", "empirical_mmd", "epps_singleton"]);
  const SPANS = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
  const windowSeconds = Number(p.get("window_seconds")) || Math.max(60, Math.round((SPANS[state.since] || 3600) / 6));

  function reload(changes) {
    setParams(changes);
    location.reload();
  }
  const select = (name, values, current) =>
    el("select", { name, onchange: (e) => reload({ [name]: e.target.value }) },
      values.map((v) => el("option", { value: v, selected: v === current }, v || "all versions")));

  const header = el("div", { class: "toolbar" }, el("h1", {}, "Model ", el("code", { text: model })));
  app.replaceChildren(header);
  const versionsAnswer = api("models", { since: "30d" }).catch(() => ({ models: [] }));
  const sections = {
    drift: card("Drift per feature over time"),
    dist: card("Reference vs current"),
    latency: card("Latency percentiles"),
    accuracy: card("Accuracy"),
    versions: card("Versions"),
  };
  app.append(el("div", { class: "grid2" }, sections.dist, sections.latency, sections.accuracy, sections.versions));
  app.insertBefore(sections.drift, app.children[1]);

  const mine = (await versionsAnswer).models.filter((m) => m.model === model);
  header.append(
    el("label", {}, "version ", select("version", ["", ...mine.map((m) => m.version)], state.version)),
    el("label", {}, "last ", select("since", Object.keys(SPANS), state.since)),
    el("a", { href: href("/traces", { model }) }, "traces of this model →"),
  );

  const common = { model, version: state.version, since: state.since };
  await Promise.all([
    driftOverTime(), distributions(), latency(), accuracy(), versions(),
  ].map((work) => work.catch((error) => console.warn(error))));
  document.body.dataset.painted = "1";
  document.body.dataset.paintedAt = String(performance.now());  // read by bench/console_bench.py

  async function driftOverTime() {
    const target = sections.drift;
    let answer;
    try {
      answer = await api("drift", { ...common, window_seconds: windowSeconds });
    } catch (error) {
      target.append(failure(error));
      return;
    }
    const windows = answer.windows.filter((w) => w.features.length && !w.no_data);
    if (!windows.length) {
      target.append(notice("no feature values in this range"));
      return;
    }
    const reference = answer.reference_range
      ? `${time(answer.reference_range.start_unix_nano)} … ${time(answer.reference_range.end_unix_nano)}${answer.reference_chosen ? ` (${answer.reference_chosen})` : ""}`
      : "the 24 h before the range";
    target.append(notice(`${windows.length} windows of ${windowSeconds}s against the reference: ${reference}; dataset drift when at least ${pct(answer.drift_share)} of the features drift.`));
    const x = windows.map((w) => (w.start_unix_nano + w.end_unix_nano) / 2e9);
    const names = [...new Set(windows.flatMap((w) => w.features.map((f) => f.feature)))];
    const grid = el("div", { class: "charts" });
    target.append(grid);
    for (const name of names) {
      const per = windows.map((w) => w.features.find((f) => f.feature === name) || null);
      const first = per.find((f) => f) || {};
      const drifted = per.filter((f) => f && f.drifted).length;
      const box = el("div", { class: "chart", "data-name": `drift ${name}` });
      grid.append(el("div", { class: "mini" },
        el("h3", {}, el("a", { href: href("/model", { ...common, feature: name }) }, name),
          el("span", { class: drifted ? "verdict bad" : "verdict good" }, drifted ? `drifted in ${drifted}/${windows.length}` : "no drift"),
          el("span", { class: "muted" }, ` ${first.method || ""}`)),
        box));
      lineChart(box, {
        x, height: 160, yLabel: P_VALUE_METHODS.has(first.method) ? "p-value (log, ≥1e-16)" : "score",
        log: P_VALUE_METHODS.has(first.method),
        series: [
          { label: "score", values: per.map((f) => (f ? f.score : null)) },
          { label: "threshold", values: per.map((f) => (f ? f.threshold : null)), color: "#dc2626", dash: [6, 4], width: 1 },
        ],
      });
    }
  }

  async function distributions() {
    const target = sections.dist;
    let answer;
    try {
      answer = await api("drift", common);
    } catch (error) {
      target.append(failure(error));
      return;
    }
    const window = answer.windows[answer.windows.length - 1];
    if (!window || !window.features.length) {
      target.append(notice("no feature values in this range"));
      return;
    }
    const features = window.features;
    const chosen = features.find((f) => f.feature === state.feature) || features.find((f) => f.drifted) || features[0];
    const columns = [
      { key: "feature", render: (f) => el("a", { href: href("/model", { ...common, feature: f.feature }), class: f === chosen ? "chosen" : "" }, f.feature) },
      { key: "kind" }, { key: "method" },
      { key: "score", num: true }, { key: "threshold", num: true },
      { key: "drifted", render: (f) => el("span", { class: f.drifted ? "verdict bad" : "verdict good" }, f.drifted ? "drift" : "ok") },
      { key: "n_reference", label: "n ref", num: true }, { key: "n_current", label: "n cur", num: true },
    ];
    target.append(el("div", { id: "drift-table" }, table(columns, features)));
    const labels = binLabels(chosen);
    const box = el("div", { class: "chart", "data-name": `distribution ${chosen.feature}` });
    target.append(el("h3", {}, `${chosen.feature}: `, el("span", { class: "muted" }, chosen.kind === "categorical" ? "share per category" : "share per bin (histogram)")), box);
    if (!labels.length) {
      box.append(notice("no distribution in this answer"));
      return;
    }
    barChart(box, {
      labels,
      series: [
        { label: "reference", values: chosen.reference_shares, color: "#6b7280" },
        { label: "current", values: chosen.current_shares, color: "#2563eb" },
      ],
    });
  }

  function binLabels(f) {
    const n = Math.max(f.reference_shares.length, f.current_shares.length);
    if (f.bins && f.bins.length === n) return f.bins;
    const edges = f.bin_edges || [];
    if (edges.length === n + 1) return edges.slice(0, n).map((lo, i) => `${fmt(lo, 3)}–${fmt(edges[i + 1], 3)}`);
    return Array.from({ length: n }, (_, i) => `bin ${i + 1}`);
  }

  async function latency() {
    const target = sections.latency;
    let answer;
    try {
      answer = await api("latency", { ...common, group_by: "bucket", slo_ms: state.slo_ms, slo_target: state.slo_target });
    } catch (error) {
      target.append(failure(error));
      return;
    }
    const groups = [...answer.groups].sort((a, b) => toSeconds(a.keys.bucket) - toSeconds(b.keys.bucket));
    if (!groups.length) {
      target.append(notice("no inferences in this range"));
      return;
    }
    const box = el("div", { class: "chart", "data-name": "latency" });
    target.append(box);
    const series = [
      { label: "p50 ms", values: groups.map((g) => g.p50_ms) },
      { label: "p90 ms", values: groups.map((g) => g.p90_ms) },
      { label: "p99 ms", values: groups.map((g) => g.p99_ms) },
    ];
    if (state.slo_ms) series.push({ label: "SLO ms", values: groups.map(() => Number(state.slo_ms)), color: "#dc2626", dash: [6, 4], width: 1 });
    lineChart(box, { x: groups.map((g) => toSeconds(g.keys.bucket)), series, yLabel: "ms" });
    if (answer.burn_rates.length) {
      target.append(el("h3", {}, "SLO burn ", el("span", { class: answer.page ? "verdict bad" : answer.ticket ? "verdict warn" : "verdict good" }, answer.page ? "page" : answer.ticket ? "ticket" : "ok")));
      target.append(table([
        { key: "window" }, { key: "factor", num: true }, { key: "long_burn", label: "long burn", num: true },
        { key: "short_burn", label: "short burn", num: true }, { key: "alerting" },
      ], answer.burn_rates));
    } else {
      target.append(el("form", { class: "search", onsubmit: (e) => { e.preventDefault(); const f = new FormData(e.target); reload({ slo_ms: f.get("slo_ms"), slo_target: f.get("slo_target") }); } },
        el("span", { class: "muted" }, "No SLO configured for this model. Try one: "),
        el("label", {}, "threshold ms ", el("input", { name: "slo_ms", size: 6 })),
        el("label", {}, "target ", el("input", { name: "slo_target", size: 6, placeholder: "0.99" })),
        el("button", { type: "submit" }, "Burn rates")));
    }
  }

  async function accuracy() {
    const target = sections.accuracy;
    let answer;
    try {
      answer = await api("performance", { ...common, group_by: "bucket" });
    } catch (error) {
      target.append(failure(error));
      return;
    }
    const groups = [...answer.groups].sort((a, b) => toSeconds(a.keys.bucket) - toSeconds(b.keys.bucket));
    const labelled = groups.reduce((n, g) => n + g.labelled, 0);
    const metric = answer.task === "regression" ? "mae" : "accuracy";
    const hasEstimate = groups.some((g) => g.estimated[metric] !== undefined && g.estimated[metric] !== null);
    target.append(notice(`${answer.task || "task unknown"}; ${fmt(labelled)} of ${fmt(groups.reduce((n, g) => n + g.count, 0))} inferences labelled.`));
    if (!groups.length || (!labelled && !hasEstimate)) {
      target.append(notice("no labels and no scores in this range yet"));
      return;
    }
    const box = el("div", { class: "chart", "data-name": "accuracy" });
    target.append(box);
    const series = [{ label: `${metric} (labels)`, values: groups.map((g) => (g.labelled ? g.metrics[metric] ?? null : null)) }];
    if (hasEstimate) series.push({ label: `${metric} (CBPE estimate)`, values: groups.map((g) => g.estimated[metric] ?? null), dash: [6, 4] });
    lineChart(box, { x: groups.map((g) => toSeconds(g.keys.bucket)), series, yLabel: metric });
  }

  async function versions() {
    const target = sections.versions;
    const byTime = [...mine].sort((a, b) => (a.last_seen < b.last_seen ? -1 : 1));
    const [baseline, candidate] = byTime.length >= 2 ? byTime.slice(-2).map((m) => m.version) : ["", ""];
    let lat, perf;
    try {
      [lat, perf] = await Promise.all([
        api("latency", { model, since: state.compare, group_by: "version", baseline, candidate }),
        api("performance", { model, since: state.compare, group_by: "version" }),
      ]);
    } catch (error) {
      target.append(failure(error));
      return;
    }
    const acc = new Map(perf.groups.map((g) => [g.keys.version, g]));
    const rows = lat.groups.map((g) => ({ version: g.keys.version, ...g, accuracy: acc.get(g.keys.version)?.metrics.accuracy ?? null, labelled: acc.get(g.keys.version)?.labelled ?? 0 }));
    target.append(notice(`last ${state.compare}`));
    target.append(el("div", { id: "versions-table" }, table([
      { key: "version" }, { key: "count", num: true }, { key: "error_rate", label: "error rate", num: true, fmt: pct },
      { key: "p50_ms", label: "p50 ms", num: true }, { key: "p99_ms", label: "p99 ms", num: true },
      { key: "labelled", num: true }, { key: "accuracy", num: true },
    ], rows)));
    const r = lat.regression;
    if (r && r.baseline) {
      target.append(el("p", { class: "regression" },
        `v${r.candidate} vs v${r.baseline}: p99 ${fmt(r.baseline_p99_ms)} → ${fmt(r.candidate_p99_ms)} ms, `,
        `Mann-Whitney p = ${fmt(r.p_value)}, Cliff's δ = ${fmt(r.cliffs_delta)} — `,
        el("span", { class: r.slower ? "verdict bad" : "verdict good" }, r.slower ? "slower" : "not slower")));
    }
  }
})();
