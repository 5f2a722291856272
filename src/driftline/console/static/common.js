// driftline console: shared helpers for every page (no framework, no build step).
// State lives in the query string (DL.params / DL.setParams), data comes from /api/<answer>,
// charts are uPlot (vendor/uplot) or small canvases (sparklines).
"use strict";

const DL = (() => {
  const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#4b5563"];

  const params = () => new URLSearchParams(location.search);

  function query(obj) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(obj || {})) {
      if (v === undefined || v === null || v === "") continue;
      if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
      else p.set(k, v);
    }
    return p;
  }

  // Merge `updates` into the URL (empty values removed) without reloading.
  function setParams(updates) {
    const p = params();
    for (const [k, v] of Object.entries(updates)) {
      p.delete(k);
      if (Array.isArray(v)) v.forEach((x) => p.append(k, x));
      else if (v !== undefined && v !== null && v !== "") p.set(k, v);
    }
    const qs = p.toString();
    history.replaceState(null, "", location.pathname + (qs ? "?" + qs : ""));
  }

  async function api(name, args) {
    const response = await fetch(`/api/${name}?${query(args)}`, {
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      location.href = "/login?next=" + encodeURIComponent(location.pathname + location.search);
      throw new Error("log in first");
    }
    const body = await response.json();
    if (!response.ok) {
      const error = new Error(`${body.error}: ${body.message}`);
      error.code = body.error;
      throw error;
    }
    return body;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function fmt(v, digits = 4) {
    if (v === null || v === undefined || v === "") return "–";
    if (typeof v === "boolean") return v ? "yes" : "no";
    if (typeof v !== "number") return String(v);
    if (Number.isInteger(v)) return v.toLocaleString("en-US");
    if (v !== 0 && Math.abs(v) < 1e-3) return v.toExponential(2);
    return String(Number(v.toPrecision(digits)));
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(2)}%`);

  function time(iso) {
    if (!iso) return "–";
    const d = typeof iso === "number" ? new Date(iso / 1e6) : new Date(iso);
    return isNaN(d) ? String(iso) : d.toISOString().replace("T", " ").slice(0, 19) + "Z";
  }

  const seconds = (iso) => new Date(iso).getTime() / 1000;

  function card(title, ...children) {
    return el("section", { class: "card", "data-name": title }, el("h2", { text: title }), ...children);
  }

  function notice(text, cls = "muted") {
    return el("p", { class: cls, text });
  }

  function failure(error) {
    return el("p", { class: "error", text: String(error.message || error) });
  }

  // A table: columns [{key, label, fmt, num}], rows of objects. Clicking a header sorts;
  // `sortParam` keeps the sort in the URL ("key" or "-key").
  function table(columns, rows, opts = {}) {
    const body = el("tbody");
    let sort = opts.sortParam ? params().get(opts.sortParam) || "" : "";
    const value = (row, c) => (c.value ? c.value(row) : row[c.key]);
    function draw() {
      let sorted = rows;
      if (sort) {
        const key = sort.replace(/^-/, "");
        const col = columns.find((c) => c.key === key);
        const dir = sort.startsWith("-") ? -1 : 1;
        if (col)
          sorted = [...rows].sort((a, b) => {
            const x = value(a, col), y = value(b, col);
            if (x === y) return 0;
            if (x === null || x === undefined) return 1;
            if (y === null || y === undefined) return -1;
            return (x < y ? -1 : 1) * dir;
          });
      }
      body.replaceChildren(
        ...sorted.map((row) =>
          el("tr", { class: opts.rowClass ? opts.rowClass(row) : "" },
            columns.map((c) => {
              const v = value(row, c);
              const shown = c.render ? c.render(row) : (c.fmt || fmt)(v);
              const raw = v === undefined || v === null || typeof v === "object" ? null : String(v);
              return el("td", { class: c.num ? "num" : "", "data-key": c.key, "data-value": raw }, shown);
            }))
        )
      );
    }
    const head = el("tr", {},
      columns.map((c) =>
        el("th", {
          class: c.num ? "num" : "",
          title: c.sortable === false ? null : "sort",
          onclick: c.sortable === false ? null : () => {
            sort = sort === c.key ? "-" + c.key : c.key;
            if (opts.sortParam) setParams({ [opts.sortParam]: sort });
            draw();
          },
        }, c.label ?? c.key)
      ));
    draw();
    return el("table", { class: "grid" }, el("thead", {}, head), body);
  }

  function width(target) {
    return Math.max(320, (target.clientWidth || target.parentElement.clientWidth || 600) - 8);
  }

  // A time-series chart: x in Unix seconds; series [{label, values, color, dash, width}].
  function lineChart(target, { x, series, height = 220, yLabel = "", log = false }) {
    if (log) {
      const floor = 1e-16;  // smaller p-values (down to 0) are drawn at the floor
      series = series.map((s) => ({ ...s, values: s.values.map((v) => (v === null ? null : Math.max(v, floor))) }));
    }
    const opts = {
      width: width(target),
      height,
      scales: { x: { time: true }, y: log ? { distr: 3, log: 10 } : {} },
      axes: [{}, { label: yLabel, size: 60 }],
      series: [
        {},
        ...series.map((s, i) => ({
          label: s.label,
          stroke: s.color || COLORS[i % COLORS.length],
          width: s.width || 2,
          dash: s.dash,
          points: { show: x.length < 40 },
        })),
      ],
    };
    return new uPlot(opts, [x, ...series.map((s) => s.values)], target);
  }

  // Grouped bars over categories (labels): series [{label, values}] side by side.
  function barChart(target, { labels, series, height = 220, yLabel = "share" }) {
    const n = series.length;
    const x = labels.map((_, i) => i);
    const opts = {
      width: width(target),
      height,
      scales: { x: { time: false, range: [-0.6, labels.length - 0.4] }, y: { range: [0, null] } },
      axes: [
        { values: (u, splits) => splits.map((i) => (Number.isInteger(i) ? labels[i] ?? "" : "")),
          splits: () => x, rotate: labels.length > 8 ? -45 : 0, size: labels.length > 8 ? 70 : 40 },
        { label: yLabel, size: 60 },
      ],
      series: [
        { value: (u, i) => (i === null ? "" : labels[i] ?? "") },
        ...series.map((s, i) => ({
          label: s.label,
          fill: (s.color || COLORS[i % COLORS.length]) + "b0",
          stroke: s.color || COLORS[i % COLORS.length],
          width: 1,
          paths: uPlot.paths.bars({ size: [0.8 / n, 80], align: n === 1 ? 0 : i === 0 ? -1 : 1 }),
          points: { show: false },
        })),
      ],
    };
    return new uPlot(opts, [x, ...series.map((s) => s.values)], target);
  }

  // A sparkline on a small canvas (no axes): fast enough for a row per model.
  function sparkline(values, color = COLORS[0], w = 120, h = 28) {
    const canvas = el("canvas", { width: w, height: h, class: "spark" });
    const ctx = canvas.getContext("2d");
    const finite = values.filter((v) => v !== null && Number.isFinite(v));
    if (!finite.length) return canvas;
    const max = Math.max(...finite), min = Math.min(0, ...finite);
    const span = max - min || 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    values.forEach((v, i) => {
      const px = values.length === 1 ? w / 2 : (i / (values.length - 1)) * (w - 2) + 1;
      const py = h - 2 - ((v ?? 0) - min) / span * (h - 4);
      if (i === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    });
    if (values.length === 1) ctx.arc(w / 2, h / 2, 2, 0, 2 * Math.PI);
    ctx.stroke();
    return canvas;
  }

  function link(href, text) {
    return el("a", { href }, text);
  }

  function href(path, args) {
    const qs = query(args).toString();
    return qs ? `${path}?${qs}` : path;
  }

  // A small form bound to query-string keys: fields [{name, label, placeholder, options}].
  function searchForm(fields, onSubmit) {
    const p = params();
    const inputs = fields.map((f) => {
      const input = f.options
        ? el("select", { name: f.name }, f.options.map((o) =>
            el("option", { value: o, selected: (p.get(f.name) || f.value || "") === o }, o || "any")))
        : el("input", { name: f.name, placeholder: f.placeholder || "", value: p.get(f.name) || f.value || "",
                        size: f.size || 16 });
      return el("label", {}, f.label, input);
    });
    const form = el("form", { class: "search" }, inputs, el("button", { type: "submit" }, "Search"));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      setParams(values);
      onSubmit(values);
    });
    return form;
  }

  return { COLORS, params, setParams, api, el, fmt, pct, time, seconds, card, notice, failure,
           table, lineChart, barChart, sparkline, link, href, searchForm };
})();
