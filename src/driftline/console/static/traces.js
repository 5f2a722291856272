// Traces and logs: search logs by severity, text, service and trace id; a model's recent
// inferences; a trace's spans as a waterfall (SVG) with its logs.
"use strict";
(async () => {
  const { el, api, fmt, time, table, card, notice, failure, searchForm, params, href } = DL;
  const app = document.getElementById("app");
  const SVG = "http://www.w3.org/2000/svg";

  const form = searchForm([
    { name: "trace_id", label: "trace id ", placeholder: "32 hex digits", size: 34 },
    { name: "model", label: "model ", size: 12 },
    { name: "severity", label: "min severity ", options: ["", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] },
    { name: "text", label: "text ", size: 16 },
    { name: "service", label: "service ", size: 12 },
    { name: "since", label: "last ", options: ["1h", "6h", "24h", "7d", "30d"], value: "24h" },
  ], () => draw());
  const results = el("div", {});
  app.replaceChildren(el("h1", { text: "Traces & logs" }), el("section", { class: "card" }, form), results);
  await draw();

  async function draw() {
    const p = params();
    const q = Object.fromEntries(["trace_id", "model", "severity", "text", "service", "since"].map((k) => [k, p.get(k) || ""]));
    q.since = q.since || "24h";
    results.replaceChildren();
    const work = [];
    if (q.trace_id) work.push(waterfall(q.trace_id));
    if (q.model) work.push(inferences(q));
    work.push(logs(q));
    await Promise.all(work);
    document.body.dataset.painted = "1";
  }

  async function logs(q) {
    const target = card(q.trace_id ? "Logs of this trace" : "Logs");
    results.append(target);
    try {
      const answer = await api("logs", { since: q.since, severity: q.severity, text: q.text, service: q.service, trace_id: q.trace_id });
      if (!answer.logs.length) return target.append(notice("no log records match"));
      target.append(el("div", { id: "logs-table" }, table([
        { key: "time", fmt: time }, { key: "severity" }, { key: "service" }, { key: "body" },
        { key: "trace_id", label: "trace", render: (r) => (r.trace_id ? el("a", { href: href("/traces", { trace_id: r.trace_id, since: q.since }) }, r.trace_id.slice(0, 12) + "…") : "–") },
      ], answer.logs)));
    } catch (error) {
      target.append(failure(error));
    }
  }

  async function inferences(q) {
    const target = card(`Recent inferences of ${q.model}`);
    results.append(target);
    try {
      const answer = await api("inferences", { model: q.model, since: q.since, limit: 25 });
      if (!answer.inferences.length) return target.append(notice("no inferences of this model in range"));
      target.append(el("div", { id: "inferences-table" }, table([
        { key: "time", fmt: time }, { key: "version" }, { key: "duration_ms", label: "ms", num: true },
        { key: "status" }, { key: "prediction" }, { key: "score", num: true },
        { key: "trace_id", label: "trace", render: (r) => el("a", { href: href("/traces", { trace_id: r.trace_id, since: q.since }) }, r.trace_id.slice(0, 12) + "…") },
      ], answer.inferences)));
    } catch (error) {
      target.append(failure(error));
    }
  }

  // ISO 8601 with micro- or nanoseconds → milliseconds, keeping the digits Date drops.
  function millis(iso) {
    const extra = String(iso).match(/\.\d{3}(\d+)/);
    return new Date(iso).getTime() + (extra ? Number(extra[1]) / 10 ** extra[1].length : 0);
  }

  async function waterfall(traceId) {
    const target = card(`Trace ${traceId}`);
    results.append(target);
    let answer;
    try {
      answer = await api("trace", { trace_id: traceId });
    } catch (error) {
      return target.append(failure(error));
    }
    const spans = answer.spans.map((s) => ({ ...s, t0: millis(s.start) }));
    const byId = new Map(spans.map((s) => [s.span_id, s]));
    const depth = (s, seen = 0) => (s.parent_span_id && byId.has(s.parent_span_id) && seen < 64 ? 1 + depth(byId.get(s.parent_span_id), seen + 1) : 0);
    const t0 = Math.min(...spans.map((s) => s.t0));
    const t1 = Math.max(...spans.map((s) => s.t0 + s.duration_ms));
    const total = Math.max(t1 - t0, 0.001);
    const width = Math.max(600, target.clientWidth - 40), labelW = 260, rowH = 22;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", spans.length * rowH + 24);
    svg.setAttribute("class", "waterfall");
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    const scale = (width - labelW - 80) / total;
    add("text", { x: labelW, y: 14, class: "axis" }, "0 ms");
    add("text", { x: width - 80, y: 14, class: "axis", "text-anchor": "end" }, `${fmt(total)} ms`);
    spans.forEach((s, i) => {
      const y = 24 + i * rowH;
      const d = depth(s);
      add("text", { x: 4 + d * 12, y: y + 15, class: "label" }, `${s.service} · ${s.name}`);
      const bar = add("rect", { x: labelW + (s.t0 - t0) * scale, y: y + 3, width: Math.max(2, s.duration_ms * scale), height: rowH - 6, rx: 2, class: s.status === "Error" ? "span error" : "span" });
      bar.append(Object.assign(document.createElementNS(SVG, "title"), { textContent: `${s.name} ${s.duration_ms} ms ${s.status}` }));
      add("text", { x: labelW + (s.t0 - t0) * scale + Math.max(2, s.duration_ms * scale) + 4, y: y + 15, class: "dur" }, `${fmt(s.duration_ms)} ms`);
    });
    target.append(el("div", { class: "chart", "data-name": "waterfall" }, svg));
    target.append(el("details", {}, el("summary", {}, `${spans.length} spans`), el("div", { id: "spans-table" }, table([
      { key: "start", fmt: time }, { key: "service" }, { key: "name" }, { key: "kind" },
      { key: "duration_ms", label: "ms", num: true }, { key: "status" }, { key: "span_id", label: "span" },
    ], answer.spans))));
  }
})();
