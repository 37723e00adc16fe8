// Small SVG line charts for the dashboard: no library, no outside request.
"use strict";
(function () {
  const NS = "http://www.w3.org/2000/svg";

  function el(name, attrs, parent) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // niceMax rounds v up to 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function fmtTime(ms, noSeconds) {
    const d = new Date(ms);
    const hm = String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
    return noSeconds ? hm : hm + ":" + String(d.getSeconds()).padStart(2, "0");
  }

  // The steps between the time axis's ticks, in ms: whole seconds,
  // minutes and hours.
  const STEPS = [1, 2, 5, 10, 15, 30].map((s) => s * 1000)
    .concat([1, 2, 5, 10, 15, 30].map((m) => m * 60000))
    .concat([1, 2, 3, 6, 12, 24].map((h) => h * 3600000));

  // timeTicks returns the times of the time axis's ticks between tMin and
  // tMax: multiples of the smallest step that gives at most max ticks, so
  // no two ticks have the same label (ticks at fifths of a 3-second span
  // all read the same hh:mm:ss). With no multiple in the span (shorter than
  // a second), the one tick is tMin.
  function timeTicks(tMin, tMax, max) {
    const span = tMax - tMin;
    const step = STEPS.find((s) => span / s <= max - 1) || STEPS[STEPS.length - 1];
    const out = [];
    for (let t = Math.ceil(tMin / step) * step; t <= tMax; t += step) out.push(t);
    if (!out.length) out.push(tMin);
    return { step: step, ticks: out };
  }

  // draw renders series into svg. Each series is {name, color, dash,
  // points: [[tMillis, value or null], ...]}; opts.format formats the y
  // axis, opts.tMin and opts.tMax bound the time axis, opts.max the value
  // axis (when no value is above it). Two points further apart than
  // opts.gap (ms) are not joined: no point was taken between them (the
  // gateway samples only while a dashboard is open), and a line drawn
  // over that time would show numbers nobody measured.
  function draw(svg, series, opts) {
    opts = opts || {};
    const W = Math.max(svg.clientWidth || 400, 200), H = Math.max(svg.clientHeight || 170, 100);
    const L = 46, R = 8, T = 8, B = 20;
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    let tMin = opts.tMin, tMax = opts.tMax, vMax = 0, count = 0;
    for (const s of series) for (const [t, v] of s.points) {
      if (v == null || !isFinite(v)) continue;
      count++;
      vMax = Math.max(vMax, v);
      if (tMin == null || t < tMin) tMin = t;
      if (tMax == null || t > tMax) tMax = t;
    }
    svg.dataset.points = String(count);
    if (count === 0) {
      el("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, svg).textContent = "no data yet";
      return;
    }
    if (tMax === tMin) tMin = tMax - 1000;
    // opts.max bounds the axis (100 for a percentage): a rate at 97% drew
    // an axis to 200%, the data squeezed into its lower half.
    let yMax = niceMax(vMax * 1.05);
    if (opts.max && vMax <= opts.max) yMax = Math.min(yMax, opts.max);
    // An axis under 1 (a latency under a millisecond, a rate under 1%)
    // labels its ticks with the decimals their step needs, all alike: at
    // two decimals 0.125 read 0.13, and ticks 0.0025 apart read 0.
    let fine = 0;
    if (yMax < 1) while (fine < 8 && Math.abs(yMax / 4 * Math.pow(10, fine) - Math.round(yMax / 4 * Math.pow(10, fine))) > 1e-6) fine++;
    const fmt = opts.format || ((v) => (fine && v ? v.toFixed(fine) : String(v >= 100 ? Math.round(v) : v >= 10 ? Math.round(v * 10) / 10 : Math.round(v * 100) / 100)));
    const x = (t) => L + (W - L - R) * (t - tMin) / (tMax - tMin);
    const y = (v) => T + (H - T - B) * (1 - v / yMax);
    for (let i = 0; i <= 4; i++) {
      const v = yMax * i / 4, yy = y(v);
      el("line", { x1: L, x2: W - R, y1: yy, y2: yy, class: i === 0 ? "axis" : "gridline" }, svg);
      el("text", { x: L - 5, y: yy + 3, "text-anchor": "end" }, svg).textContent = fmt(v);
    }
    const tt = timeTicks(tMin, tMax, 6);
    for (const t of tt.ticks) {
      // Kept inside the plot: a label near an edge is anchored on it.
      const xx = x(t), anchor = xx - L < 24 ? "start" : W - R - xx < 24 ? "end" : "middle";
      el("text", { x: xx, y: H - 5, "text-anchor": anchor, class: "xtick" }, svg).textContent = fmtTime(t, tt.step >= 60000);
    }
    for (const s of series) {
      let d = "", pen = false, n = 0, last = null;
      for (const [t, v] of s.points) {
        if (opts.gap && last != null && t - last > opts.gap) pen = false;
        last = t;
        if (v == null || !isFinite(v)) { pen = false; continue; }
        d += (pen ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1);
        pen = true;
        n++;
      }
      if (!d) continue;
      const path = el("path", { d: d, fill: "none", stroke: s.color, "stroke-width": s.width || 2, "stroke-linejoin": "round", class: "series" }, svg);
      if (s.dash) path.setAttribute("stroke-dasharray", "5 4");
      path.dataset.series = s.name;
      path.dataset.points = String(n);
      const title = el("title", {}, path);
      title.textContent = s.name;
    }
  }

  window.SluiceChart = { draw: draw, niceMax: niceMax, fmtTime: fmtTime, timeTicks: timeTicks };
})();
