// The Sluice dashboard. Every read and action goes to /ui/api/..., which
// serves it through the admin API on behalf of the signed-in token; the
// server enforces roles, the page only reflects them. Text from the server
// (model answers, reasons) is only ever set as text, never as HTML.
"use strict";
(function () {
  const meta = (n) => (document.querySelector('meta[name="' + n + '"]') || {}).content || "";
  const state = {
    csrf: meta("sluice-csrf"), role: meta("sluice-role"), name: meta("sluice-name"),
    canAct: ["operator", "admin"].includes(meta("sluice-role")),
    models: [], model: "", status: null, series: {}, baseline: "", candidate: "",
    category: "", categories: [], revision: -1, verdicts: [], shownVerdict: null,
    es: null, lastT: 0, ticks: 0, refreshing: false,
    history: null, historyGen: 0, // the History tab's pages: { model, rows, next, gen }
    // The metrics held within their threshold both ways, from the analysis
    // (analysis.TwoSidedMetrics), shown as ±x, as the verdict's detail says.
    twoSided: meta("sluice-two-sided").split(" ").filter(Boolean),
  };
  const COLORS = { stable: "#2f6fdf", cand: "#e8772e", others: ["#3aa39a", "#8a6cbf", "#b07d2b", "#7b8594", "#c2467a"] };
  const WINDOW_MS = 10 * 60 * 1000;

  // ---- helpers ----
  const $ = (id) => document.getElementById(id);
  function h(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      const v = attrs[k];
      if (v == null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of kids.flat()) if (c != null && c !== false) e.append(c instanceof Node ? c : String(c));
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  const pct = (x, d) => (x == null ? "–" : (100 * x).toFixed(d == null ? 2 : d) + "%");
  const num = (x, d) => (x == null ? "–" : Number(x).toFixed(d == null ? 0 : d));
  const fmtPercent = (p) => String(Math.round(p * 100) / 100);
  // localTime says when s was, in the browser's zone: the time of day, with
  // the date before it ("2026-11-28 14:03:07") when that is not today: an
  // ended rollout's events from last week read as if they were today's.
  function localTime(s) {
    const d = new Date(s);
    if (isNaN(d)) return "";
    const p2 = (n) => String(n).padStart(2, "0");
    const t = p2(d.getHours()) + ":" + p2(d.getMinutes()) + ":" + p2(d.getSeconds());
    return d.toDateString() === new Date().toDateString() ? t : d.getFullYear() + "-" + p2(d.getMonth() + 1) + "-" + p2(d.getDate()) + " " + t;
  }
  const utc = (s) => String(s).replace(/\.\d+/, "").replace("T", " ").replace("Z", "");
  function durationText(ms) {
    if (ms < 1000) return Math.round(ms) + " ms";
    const s = Math.round(ms / 1000);
    if (s < 120) return s + " s";
    const m = Math.floor(s / 60);
    return m < 120 ? m + "m" + (s % 60 ? " " + (s % 60) + "s" : "") : Math.floor(m / 60) + "h" + (m % 60 ? " " + (m % 60) + "m" : "");
  }
  // parseDuration reads Go's "1h2m3.5s" / "300ms".
  function parseDuration(s) {
    if (typeof s === "number") return s / 1e6;
    let ms = 0;
    const re = /([\d.]+)(h|ms|m|s|µs|us|ns)/g;
    let m;
    while ((m = re.exec(String(s)))) {
      const v = parseFloat(m[1]);
      ms += v * { h: 3600e3, m: 60e3, s: 1e3, ms: 1, "µs": 1e-3, us: 1e-3, ns: 1e-6 }[m[2]];
    }
    return ms;
  }

  function flash(msg, isError) {
    const f = $("flash");
    f.textContent = msg;
    f.className = "flash" + (isError ? " error" : "");
    f.hidden = false;
    clearTimeout(flash.timer);
    flash.timer = setTimeout(() => { f.hidden = true; }, isError ? 12000 : 6000);
  }

  // signingOut is set by the first 401: the page is being reloaded to
  // the sign-in page (call).
  let signingOut = false;

  async function call(method, path, body) {
    const opts = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-Sluice-CSRF"] = state.csrf;
    const resp = await fetch(path, opts);
    const data = await resp.json().catch(() => null);
    if (resp.status === 401) {
      // Signed out (or the token was deleted): back to the sign-in page.
      // The promise never settles, so nothing reports the page going away.
      // Loaded again, /ui/ is the sign-in page, and the address's #...
      // stays: signed in again, it opens the same. The gateway's reason
      // (the token expired, was deleted, the session ended) goes with it,
      // for the sign-in page to show (login.js).
      // The first 401 says why (a token past its expiry ends the session
      // as it is refused); the requests in flight with it (the polls of
      // the live card, the replicas, the requests) are then told only that
      // the session has ended, and their answers may come after it: that
      // one never replaces a reason kept, though a reason replaces it.
      const why = data && data.error && data.error.message;
      const kept = sessionStorage.getItem("sluice-signed-out");
      if (why && (!signingOut || !kept || (/session has ended/.test(kept) && !/session has ended/.test(why)))) {
        sessionStorage.setItem("sluice-signed-out", why);
      }
      if (!signingOut) {
        signingOut = true;
        location.reload();
      }
      return new Promise(() => {});
    }
    if (!resp.ok) {
      const e = new Error((data && data.error && data.error.message) || "HTTP " + resp.status);
      e.status = resp.status;
      e.fields = (data && data.error && data.error.fields) || []; // the query's or body's fields it names
      throw e;
    }
    return data;
  }
  const admin = (method, path, body) => call(method, "/ui/api/admin/v1" + path, body);
  const enc = encodeURIComponent;

  function versionColor(v, i) {
    if (v === state.baseline) return COLORS.stable;
    if (v === state.candidate) return COLORS.cand;
    return COLORS.others[(i || 0) % COLORS.others.length];
  }

  // ---- models ----
  function splitBar(m, baseline, candidate) {
    let segs = [];
    if (m.policy.kind === "split") segs = (m.policy.split || []).filter((w) => w.percent > 0).map((w) => [w.version, w.percent]);
    else if (m.serving.length) segs = m.serving.map((v) => [v, 100 / m.serving.length]);
    const bar = h("div", { class: "split", dataset: { model: m.name } });
    segs.forEach(([v, p], i) => {
      let color = COLORS.others[i % COLORS.others.length];
      if (v === baseline) color = COLORS.stable;
      else if (v === candidate) color = COLORS.cand;
      else if (!baseline && i === 0) color = COLORS.stable;
      const seg = h("div", { class: "seg", title: v + " " + fmtPercent(p) + "%", dataset: { version: v, percent: fmtPercent(p) } }, v + " " + fmtPercent(p) + "%");
      seg.style.width = p + "%";
      seg.style.background = color;
      bar.append(seg);
    });
    if (!segs.length) bar.append(h("div", { class: "seg muted" }, "no version serves"));
    return bar;
  }

  function renderModels() {
    const tb = clear($("models-table").querySelector("tbody"));
    const sel = $("model-select");
    const had = sel.value;
    clear(sel);
    for (const m of state.models) {
      sel.append(h("option", { value: m.name }, m.name));
      const ro = state.status && state.status.rollout && state.status.rollout.spec.model === m.name ? state.status.rollout.spec : null;
      const labels = Object.entries(m.labels || {}).sort().map(([k, v]) => h("span", { class: "chip" }, k + " → " + v));
      const versions = m.versions.map((v) => h("span", { class: "chip " + v.stage, title: v.stage }, v.version + " · " + v.stage));
      tb.append(h("tr", { class: "clickable" + (m.name === state.model ? " selected" : ""), onclick: () => selectModel(m.name) },
        h("td", {}, h("b", {}, m.name), m.description ? h("div", { class: "muted small" }, m.description) : null),
        h("td", { class: "mono" }, m.policy_text),
        h("td", {}, splitBar(m, ro ? ro.baseline : "", ro ? ro.candidate : "")),
        h("td", {}, labels.length ? labels : h("span", { class: "muted" }, "none")),
        h("td", {}, versions)));
    }
    sel.value = state.model || had;
  }

  async function loadModels() {
    const list = await admin("GET", "/models");
    state.models = list.models;
    state.revision = list.revision;
    if (!state.model || !state.models.some((m) => m.name === state.model)) {
      const saved = sessionStorage.getItem("sluice-model");
      state.model = state.models.some((m) => m.name === saved) ? saved : (state.models[0] || {}).name || "";
    }
    renderModels();
    renderSplitEditor();
  }

  // The phases of a rollout still running (sluice.Phase.Active): "baking"
  // is a promoted one still watched (RolloutSpec.Bake).
  const ACTIVE_PHASES = ["warming", "shadow", "preview", "progressing", "paused", "baking"];

  // ---- rollout ----
  function steps(r) {
    const s = r.spec, out = [{ label: "warm-up", key: "warm" }];
    if (s.strategy === "pipeline" || s.strategy === "shadow") out.push({ label: "shadow", key: "shadow" });
    if (s.strategy === "progressive" || s.strategy === "pipeline") s.stages.forEach((st, i) => out.push({ label: fmtPercent(st.percent) + "%", key: "stage", index: i }));
    else if (s.strategy === "canary") out.push({ label: "canary " + fmtPercent(s.canary_percent) + "%", key: "stage", index: 0 });
    else if (s.strategy === "abtest") out.push({ label: "A/B " + fmtPercent(s.canary_percent) + "%", key: "stage", index: 0 });
    else if (s.strategy === "bluegreen") out.push({ label: "preview", key: "preview" });
    if (s.bake) out.push({ label: "bake " + durationText(parseDuration(s.bake)), key: "bake" });
    const active = ACTIVE_PHASES.includes(r.phase);
    out.push({ label: active || r.phase === "undone" ? "promoted" : r.phase.replace("_", " "), key: "end" });
    // Which step is current.
    let cur = 0;
    const ph = r.phase === "paused" ? r.paused_from : r.phase;
    if (ph === "warming") cur = 0;
    else if (ph === "shadow") cur = out.findIndex((x) => x.key === "shadow");
    else if (ph === "preview") cur = out.findIndex((x) => x.key === "preview");
    else if (ph === "baking") cur = out.findIndex((x) => x.key === "bake");
    else if (ph === "progressing") cur = out.findIndex((x) => x.key === "stage" && (x.index === r.stage_index || s.strategy === "canary" || s.strategy === "abtest"));
    else cur = out.length - 1;
    if (cur < 0) cur = 0;
    // A rollout that ended without promotion stopped at one step: the steps
    // after it never ran.
    let stopped = -1;
    if (["rolled_back", "aborted", "failed"].includes(r.phase)) {
      if (r.bake_from) stopped = out.findIndex((x) => x.key === "bake"); // rolled back during its bake
      else if (r.phase === "failed" || !r.live_at && !["shadow", "pipeline", "bluegreen"].includes(s.strategy)) stopped = 0;
      else if (!r.live_at && (s.strategy === "shadow" || s.strategy === "pipeline")) stopped = out.findIndex((x) => x.key === "shadow");
      else if (s.strategy === "bluegreen") stopped = out.findIndex((x) => x.key === "preview");
      else stopped = out.findIndex((x) => x.key === "stage" && (x.index === r.stage_index || s.strategy === "canary" || s.strategy === "abtest"));
    }
    return { steps: out, cur: cur, stopped: stopped };
  }

  // The card's functions below take p, a prefix for the ids of what they
  // draw: "" for the live rollout's card, "past-" for an ended one's shown
  // from the History tab, so the two cards never share an id.
  function renderTimeline(r, p) {
    p = p || "";
    const { steps: st, cur, stopped } = steps(r);
    const active = ACTIVE_PHASES.includes(r.phase);
    const bad = ["rolled_back", "aborted", "failed"].includes(r.phase);
    const tl = h("div", { class: "timeline", id: p + "stage-timeline" });
    st.forEach((x, i) => {
      const skipped = bad && stopped >= 0 && i > stopped && i < cur; // never ran
      if (i > 0) tl.append(h("div", { class: "bar" + (i <= cur && !skipped && !(bad && stopped >= 0 && i > stopped) ? " done" : "") }));
      let cls = "step";
      if (skipped) cls += " skipped";
      else if (bad && i === stopped && i !== cur) cls += " failed";
      else if (i < cur || (!active && !bad && i === cur)) cls += " done";
      else if (i === cur && active) cls += " current";
      else if (i === cur && bad) cls += " failed";
      const mark = cls.includes("done") ? "✓" : cls.includes("failed") ? "✕" : cls.includes("current") ? (r.phase === "paused" ? "❚❚" : "●") : String(i + 1);
      // The step it ended at says so, as sluice rollout status's ✘ on its
      // Stages line does: a ✕ there beside the ✕ of the end read as two
      // failures, and a stage's ✕ did not say it was the traffic reached.
      let title = "";
      if (bad && i === stopped && i !== cur) {
        cls += " ended";
        title = r.phase.replace("_", " ") + " here" + (x.key === "stage" ? ", with " + x.label.replace(/^(canary|A\/B) /, "") + " of the traffic on the candidate" : "") +
          (stopped < cur - 1 ? ": the steps after it never ran" : "");
      }
      tl.append(h("div", { class: cls, title: title || undefined }, h("div", { class: "dot" }, mark), h("div", { class: "label" }, x.label)));
    });
    return tl;
  }

  function progressRow(label, frac, text, cls, id) {
    const bar = h("div", {});
    bar.style.width = Math.max(0, Math.min(100, 100 * frac)) + "%";
    return h("div", { class: "progress-row", id: id }, h("span", { class: "muted" }, label), h("div", { class: "progress " + (cls || "") }, bar), h("span", {}, text));
  }

  // A metric's numbers are shown in its unit at one precision, the same for
  // its values, differences, intervals, margins and thresholds, so that a
  // column does not put 0.1 next to 0.123456: rates in percent (differences
  // in percentage points) with 2 decimals; latencies in ms, values with 0
  // and differences with 1 (below a millisecond more: msDecimals); token
  // and character counts with 1; quality scores (0 to 1) and any other
  // metric with 3.
  const metricKind = (metric) => (/rate/.test(metric) ? "rate" : /latency|ttft/.test(metric) ? "ms" : /tokens|chars/.test(metric) ? "count" : "score");
  const DECIMALS = { count: 1, score: 3 };
  // msDecimals is the decimals of latencies in ms shown together (a
  // metric's row, a table's column), from their values: 0 from 1 ms up, as
  // ever; a demo, a fake model or a loopback test answers in under a
  // millisecond, which read "0 ms", so then 2 from 0.1 ms and 3 (1 µs)
  // below. Differences take one more.
  function msDecimals(xs) {
    let m = Infinity;
    for (const x of xs) if (x != null && Number.isFinite(x) && x !== 0) m = Math.min(m, Math.abs(x));
    return m >= 1 ? 0 : m >= 0.1 ? 2 : 3;
  }
  // signed writes x with d decimals and its sign, + for one that rounds
  // to zero (no "-0.000").
  function signed(x, d) {
    const s = Number(x).toFixed(d);
    return Number(s) === 0 ? "+" + (0).toFixed(d) : (x > 0 ? "+" : "") + s;
  }
  // fmtValue shows a metric's value as the verdict and A/B tables do; msd
  // is the row's msDecimals (0 if not given).
  function fmtValue(metric, x, msd) {
    const k = metricKind(metric);
    return k === "rate" ? pct(x, 2) : k === "ms" ? num(x, msd || 0) + " ms" : num(x, DECIMALS[k]);
  }
  // fmtDelta shows an absolute difference of a metric in fmtValue's units:
  // percentage points for rates, ms for latencies.
  function fmtDelta(metric, x, msd) {
    if (x == null || Number.isNaN(x)) return "–";
    if (!Number.isFinite(x)) return x > 0 ? "+∞" : "−∞";
    const k = metricKind(metric);
    if (k === "rate") return signed(100 * x, 2) + " pp";
    if (k === "ms") return signed(x, (msd || 0) + 1) + " ms";
    return signed(x, DECIMALS[k]);
  }
  // fmtP writes a p-value in one notation for a whole column: three
  // decimals, and "<0.001" below (as APA-style and clinical reports write
  // them, and experiment reports after them). toPrecision(2) put
  // "0.0000071" beside "3.0e-8" (it turns to exponents below 1e-6), and
  // below 0.001 the exact value decides nothing: the Holm p and the
  // result say what passed.
  const fmtP = (p) => (p == null || !Number.isFinite(Number(p)) ? "–" : Number(p) < 0.001 ? "<0.001" : Number(p).toFixed(3));

  // verdictName names a verdict row as the CLI does (sluice.MetricVerdict.Name):
  // a quality row by its source and as the guard it always is (also one
  // stored before rows carried guard), a metric named in analysis.guards
  // as a guard.
  function verdictName(m) {
    if (m.source) return m.metric + " (" + m.source + ", guard)";
    return m.guard ? m.metric + " (guard)" : m.metric;
  }
  // abName names an A/B report's row (analysis.ABMetric.Name): a quality
  // row by its source. A report judges no guards.
  const abName = (m) => (m.source ? m.metric + " (" + m.source + ")" : m.metric);

  function verdictTable(v, showPassingCats, p) {
    const rows = v.metrics.filter((m) => !m.category || m.outcome !== "pass" || showPassingCats);
    const t = h("table", { class: "grid num", id: (p || "") + "verdict-table" },
      h("thead", {}, h("tr", {}, ["Metric", "Category", "Baseline", "Candidate", "Effect", "Threshold", "p", "n (b/c)", "Result"].map((x, i) => h("th", { class: i >= 2 && i <= 7 ? "n" : "" }, x)))));
    const tb = h("tbody", {});
    // A latency row's precision follows its values (an arm without a
    // request has none).
    const msd = (m) => msDecimals([m.baseline_n ? m.baseline : null, m.candidate_n ? m.candidate : null]);
    const fmtV = (m, x) => fmtValue(m.metric, x, msd(m));
    // Rates are shown in percent, so their absolute effects and thresholds
    // are percentage points, not bare fractions.
    // A relative effect from a baseline of 0 is infinite (sent as the
    // largest float, JSON having no infinity).
    const fmtE = (m, x) => (m.unit !== "relative" ? fmtDelta(m.metric, x, msd(m))
      : !Number.isFinite(100 * x) ? (x > 0 ? "+∞" : "−∞") : signed(100 * x, 1) + "%");
    // A latency row whose absolute floor rules (threshold_ms) shows the
    // floor, "+2 ms", not its share of a sub-millisecond baseline, and its
    // effect in ms beside it ("+0.070 ms", not a "+58.3%" that cannot be
    // held against "+2 ms").
    const fmtT = (m) => (m.threshold_ms > 0 ? "+" + m.threshold_ms + " ms"
      : state.twoSided.includes(m.metric) ? "±" + fmtE(m, m.threshold).replace(/^[+-]/, "") : fmtE(m, m.threshold));
    for (const m of rows) {
      // A Prometheus gate (prom:NAME) has a value and a bound, no baseline or test.
      const gate = m.metric.startsWith("prom:");
      const gateVal = /^query failed/.test(m.detail || "") ? "error" : /^no data/.test(m.detail || "") ? "no data" : num(m.candidate, 4);
      // An arm without a request has no value: its zero is not a 0% rate
      // or a 0 ms latency, and there is no effect or test between the arms.
      const noB = !gate && !m.baseline_n, noC = !gate && !m.candidate_n;
      tb.append(h("tr", { title: gate ? m.detail || "" : "" },
        h("td", {}, verdictName(m)), h("td", {}, m.category || "all"),
        h("td", { class: "n" }, gate || noB ? "–" : fmtV(m, m.baseline)), h("td", { class: "n" }, gate ? gateVal : noC ? "–" : fmtV(m, m.candidate)),
        h("td", { class: "n" + (m.outcome === "fail" ? " delta-bad" : "") }, gate || noB || noC ? "–" : m.threshold_ms > 0 ? fmtDelta(m.metric, m.candidate - m.baseline, msd(m)) : fmtE(m, m.effect)),
        h("td", { class: "n" }, gate ? num(m.threshold, 4) : fmtT(m)),
        h("td", { class: "n" }, gate || noB || noC ? "–" : fmtP(m.p_value)),
        h("td", { class: "n" }, m.baseline_n + " / " + m.candidate_n),
        h("td", {}, h("span", { class: "chip " + m.outcome }, m.outcome))));
    }
    if (!rows.length) tb.append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "no metrics yet")));
    t.append(tb);
    return t;
  }

  function renderVerdict(box, v, title, p) {
    p = p || "";
    clear(box);
    if (!v) { box.append(h("p", { class: "muted" }, "No analysis yet: the first verdict comes once the candidate takes traffic.")); return; }
    box.append(h("div", { class: "rollout-head" },
      h("b", {}, title || "Latest verdict"),
      h("span", { class: "chip " + v.outcome, id: p + "verdict-outcome" }, v.outcome),
      h("span", { class: "muted" }, localTime(v.at) + " · baseline n=" + v.baseline_n + " · candidate n=" + v.candidate_n)));
    box.append(h("p", {}, v.reason));
    const showAll = h("label", { class: "small muted" }, h("input", { type: "checkbox", onchange: (e) => { t.replaceWith(t = verdictTable(v, e.target.checked, p)); } }), " show passing categories");
    let t = verdictTable(v, false, p);
    box.append(t, showAll);
  }

  // ---- A/B report ----
  // The chip class of a winner: the candidate's is good news, the
  // baseline's bad, a mixed result calls for a look.
  const winnerClass = (w) => ({ candidate: "pass", baseline: "fail", mixed: "inconclusive" })[w] || "";
  // Beyond the margin is news either way: the winner column says whose.
  const equivClass = (e) => ({ within: "pass", undecided: "inconclusive" })[e] || "";

  // abTable draws an A/B report's rows, as sluice rollout status does: every
  // metric on all traffic, then the category rows where an arm won or that
  // changed (all of them with showAllCats).
  function abTable(rep, showAllCats, p) {
    const level = String(Math.round(10000 * (1 - (rep.alpha || 0.05))) / 100);
    // Rows carry simultaneous intervals (adjusted_level) since they were
    // computed; a report stored before shows each row's own.
    const sim = abSimultaneous(rep);
    const cols = ["Metric", "Category", "Baseline", "Candidate", "Difference", level + (sim ? "% simultaneous interval" : "% interval"), "Margin", "Equivalence", "p", "p (Holm)", "Winner", "n (baseline / candidate)"];
    const t = h("table", { class: "grid num", id: (p || "") + "ab-table" },
      h("thead", {}, h("tr", {}, cols.map((x, i) => h("th", { class: (i >= 2 && i <= 9 && i !== 7) || i === 11 ? "n" : "" }, x)))));
    const tb = h("tbody", {});
    const rows = (rep.metrics || []).concat((rep.categories || []).filter((m) => showAllCats || m.winner !== "no difference"));
    for (const m of rows) {
      // A report stored before margins were judged has none.
      const judged = !!m.equivalence;
      const msd = msDecimals([m.baseline, m.candidate]);
      tb.append(h("tr", { dataset: { metric: m.metric, source: m.source || "", category: m.category || "" } },
        h("td", {}, abName(m)),
        h("td", {}, m.category || "all"),
        h("td", { class: "n" }, fmtValue(m.metric, m.baseline, msd)),
        h("td", { class: "n" }, fmtValue(m.metric, m.candidate, msd)),
        h("td", { class: "n" + (m.winner === "baseline" ? " delta-bad" : m.winner === "candidate" ? " delta-good" : "") }, fmtDelta(m.metric, m.diff, msd)),
        sim ? h("td", { class: "n", title: "at " + levelPct(m.adjusted_level) + " (this row's share of alpha); this row's own " + level + "% interval: [" + fmtDelta(m.metric, m.lower, msd) + ", " + fmtDelta(m.metric, m.upper, msd) + "]" },
          "[" + fmtDelta(m.metric, m.adjusted_lower, msd) + ", " + fmtDelta(m.metric, m.adjusted_upper, msd) + "]")
          : h("td", { class: "n" }, "[" + fmtDelta(m.metric, m.lower, msd) + ", " + fmtDelta(m.metric, m.upper, msd) + "]"),
        h("td", { class: "n" }, judged ? "±" + fmtDelta(m.metric, m.margin, msd).replace(/^[+-]/, "") : "–"),
        h("td", {}, judged ? h("span", { class: "chip " + equivClass(m.equivalence) }, m.equivalence) : "–"),
        h("td", { class: "n" }, fmtP(m.p_value)),
        h("td", { class: "n" }, fmtP(m.adjusted_p)),
        h("td", {}, h("span", { class: "chip " + winnerClass(m.winner) }, m.winner)),
        // What each arm's figure rests on: a feedback row's rated answers,
        // not the header's requests; "–" in a report stored before rows
        // carried them.
        h("td", { class: "n" }, m.baseline_n || m.candidate_n ? (m.baseline_n || 0) + " / " + (m.candidate_n || 0) : "–")));
    }
    if (!rows.length) tb.append(h("tr", {}, h("td", { colspan: cols.length, class: "muted" }, "no metric had data in both arms")));
    t.append(tb);
    return t;
  }

  // abSimultaneous says whether a report's rows carry simultaneous
  // intervals, and pct writes a confidence level ("99.375%").
  const abSimultaneous = (rep) => !!((rep.metrics || [])[0] || {}).adjusted_level;
  const levelPct = (l) => String(Number((100 * l).toPrecision(5))) + "%";

  // renderABReport draws the report an A/B test ended with (completed at
  // its planned sample, or stopped early by a conclusion).
  function renderABReport(rep, p) {
    p = p || "";
    const box = h("div", { class: "ab-report", id: p + "ab-report" });
    box.append(h("div", { class: "rollout-head" },
      h("b", {}, "A/B report"),
      h("span", { class: "chip " + winnerClass(rep.winner), id: p + "ab-winner" }, rep.winner),
      h("span", { class: "muted" }, "baseline n=" + rep.baseline_n + " · candidate n=" + rep.candidate_n + " · alpha " + rep.alpha)));
    box.append(h("p", { class: "ab-summary", id: p + "ab-summary" }, rep.summary));
    if (rep.stopped_early) {
      box.append(h("p", { class: "decision inconclusive", id: p + "ab-early" }, "Stopped early, before its planned " + rep.planned_n +
        " requests per arm: the p-values are of one look at a smaller sample, and a look taken because the results looked good or bad is wrong more often than alpha says."));
    }
    let t = abTable(rep, false, p);
    box.append(t);
    const hidden = (rep.categories || []).filter((m) => m.winner === "no difference").length;
    if (hidden) {
      box.append(h("label", { class: "small muted" }, h("input", { type: "checkbox", onchange: (e) => { t.replaceWith(t = abTable(rep, e.target.checked, p)); } }),
        " show the " + hidden + " category rows without a difference"));
    }
    const level = String(Math.round(10000 * (1 - (rep.alpha || 0.05))) / 100) + "%";
    const cats = (rep.categories || [])[0];
    const intervals = abSimultaneous(rep)
      ? "The intervals are simultaneous: all rows together at " + level + " (Bonferroni over the rows the Holm p adjusts: each all-traffic row at " + levelPct(rep.metrics[0].adjusted_level) +
        (cats && cats.adjusted_level ? ", each category row at " + levelPct(cats.adjusted_level) : "") + "); hover one for the row's own " + level + " interval. "
      : "The intervals are each row's own " + level + " (a report stored before intervals were adjusted): with several rows one excludes zero by chance more often. ";
    box.append(h("p", { class: "muted small", id: p + "ab-intervals" }, intervals + "Margin is the change that matters (the rollout's analysis threshold); equivalence says whether the interval lies within ±margin, beyond it, or spans it (too little data to rule out a change that matters). The Holm-adjusted p decides each row's winner."));
    return box;
  }

  // renderLateRatings draws users' ratings of an A/B test's sample that
  // arrived after its report was drawn (the status's ab_late_feedback,
  // rollout.LateFeedback), apart from the report and labelled as not in
  // it: the report stands as drawn. Null for a report stored before
  // reports kept their span.
  function renderLateRatings(st, p) {
    p = p || "";
    if (st.ab_late_feedback_error) {
      return h("div", { class: "ab-late", id: p + "ab-late" }, h("b", {}, "Late ratings: "), st.ab_late_feedback_error);
    }
    const late = st.ab_late_feedback;
    if (!late) return null;
    const box = h("div", { class: "ab-late", id: p + "ab-late" });
    const after = localTime(late.after);
    const n = late.baseline.ratings + late.candidate.ratings;
    box.append(h("div", { class: "rollout-head" }, h("b", {}, "Late ratings"),
      h("span", { class: "chip inconclusive", id: p + "ab-late-label" }, "not in the report"),
      h("span", { class: "muted" }, "users' ratings of the test's answers that arrived after the report was drawn (" + after + "); the report above stands as drawn")));
    if (!n) {
      box.append(h("p", { class: "muted", id: p + "ab-late-none" }, "None yet."));
      return box;
    }
    const mean = (x, k) => (k ? num(x, 3) : "–");
    const cols = ["Arm", "Version", "Late ratings", "Thumbs up", "Thumbs down", "Late mean", "All ratings", "All mean"];
    // lateTable draws the arms' rows of each group: [lead cells, baseline,
    // candidate]; with a category column when cat.
    const lateTable = (id, groups, cat) => {
      const t = h("table", { class: "grid num", id: id },
        h("thead", {}, h("tr", {}, (cat ? ["Category"] : []).concat(cols).map((x, i) => h("th", { class: i >= (cat ? 3 : 2) ? "n" : "" }, x)))));
      const tb = h("tbody", {});
      for (const [c, base, cand] of groups) {
        for (const [arm, a] of [["baseline", base], ["candidate", cand]]) {
          tb.append(h("tr", { dataset: { arm: arm, category: c || "" } }, cat ? h("td", {}, c || "–") : null, h("td", {}, arm), h("td", {}, a.version),
            h("td", { class: "n" }, String(a.ratings)), h("td", { class: "n" }, String(a.up)), h("td", { class: "n" }, String(a.down)),
            h("td", { class: "n" }, mean(a.mean, a.ratings)), h("td", { class: "n" }, String(a.total)), h("td", { class: "n" }, mean(a.total_mean, a.total))));
        }
      }
      t.append(tb);
      return t;
    };
    box.append(lateTable(p + "ab-late-table", [[null, late.baseline, late.candidate]], false));
    // Per category, as the report compares them: those with late ratings,
    // and a word for the others.
    const cats = late.categories || [];
    const rated = cats.filter((c) => c.baseline.ratings + c.candidate.ratings > 0);
    if (rated.length) {
      box.append(h("p", { class: "small" }, "By category:"), lateTable(p + "ab-late-cat-table", rated.map((c) => [c.category, c.baseline, c.candidate]), true));
    }
    if (cats.length > rated.length) {
      const k = cats.length - rated.length;
      box.append(h("p", { class: "muted small", id: p + "ab-late-cat-hidden" }, k + (k === 1 ? " category" : " categories") + " without late ratings not shown"));
    }
    // No verdict on them (rollout.LateRatings says why), as the CLI says.
    box.append(h("p", { class: "muted small", id: p + "ab-late-untested" },
      "Not tested: late raters chose to come back, so they are not the test's sample, and a verdict redrawn as ratings arrive is a peek; to count later ratings, run the test again with a longer --ab-feedback-wait (at most 1h)."));
    return box;
  }

  // concludable says whether r is an A/B test an operator can still
  // conclude: running, paused, or completed and not yet concluded.
  function concludable(r) {
    return !!r && r.spec.strategy === "abtest" && ["progressing", "paused", "completed"].includes(r.phase) &&
      !r.events.some((e) => e.kind === "concluded");
  }

  // webhookChips reads a webhook event of a rollout with spec s: for each
  // hook it names, the hook's name, its type and how it went: passed,
  // failed, held (a confirm_promotion that did not pass holds the step),
  // calling (its call is under way) or waiting (the step waits for its
  // first answer; one event may name several hooks). The event's data
  // says them (WebhookEvent); only an event stored before it did is read
  // from its message.
  const WEBHOOK_STATUS_TITLES = {
    passed: "the webhook passed", failed: "the webhook failed", held: "the webhook did not pass: the step is held and it is asked again every analysis interval",
    calling: "the webhook is being called", waiting: "the step waits for the webhook's answer",
  };
  function webhookChips(e, s) {
    const msg = String(e.message || ""), d = e.data && typeof e.data === "object" ? e.data : {};
    let names, type, status;
    if (d.status) {
      names = d.webhooks && d.webhooks.length ? d.webhooks : [d.webhook];
      type = d.type;
      status = d.status;
    } else {
      // Stored before the data said: the controller's words before the
      // hook's own answer, which may say anything.
      const m = /^(?:calling )?webhook (\S+) \(([a-z_]+)/.exec(msg), waits = /waits for webhook (.+?) \(([a-z_]+)\)/.exec(msg);
      names = d.name ? [d.name] : m ? [m[1]] : waits ? waits[1].split(", ") : [];
      type = m ? m[2] : waits ? waits[2] : "";
      const spec = ((s && s.webhooks) || []).find((w) => w.name === names[0]);
      if (spec && spec.type) type = spec.type;
      status = /^calling webhook /.test(msg) ? "calling" : waits ? "waiting" : /^webhook \S+ \([a-z_]+\) holds /.test(msg) ? "held"
        : d.pass === true ? "passed" : d.pass === false ? (type === "confirm_promotion" ? "held" : "failed") : "called";
    }
    return (names.length ? names : ["?"]).map((name) =>
      h("span", { class: "chip webhook " + status, title: WEBHOOK_STATUS_TITLES[status] || "", dataset: { webhook: name || "?", type: type || "", status: status } },
        "webhook " + (name || "?") + (type ? " · " + type : "") + " · " + status));
  }

  // eventList draws r's events, newest first; an event that carries a
  // verdict gets a "numbers" button, which calls showVerdict with it.
  function eventList(r, p, showVerdict) {
    const s = r.spec;
    const ul = h("ul", { class: "events", id: (p || "") + "rollout-events" });
    for (const e of r.events.slice().reverse()) {
      const rollback = ["rolled_back", "aborted", "rollback_timings", "undone", "failed", "warning"].includes(e.kind);
      const msg = h("span", {}, e.message);
      if (e.kind === "rollback_timings" && e.data) {
        const d = e.data;
        // A rollback completed for a replica that died has the drain alone.
        const parts = [["shift", d.traffic_shift_ms], ["drain", d.drain_ms], ["total", d.total_ms]].filter((p) => p[1] !== undefined);
        // Three durations of different sizes (a drain of 3 µs beside a
        // shift of 17.5 ms): each at the precision its size needs.
        msg.append(h("span", { class: "timings" }, ...parts.map((p) => h("span", {}, p[0] + " ", h("b", {}, num(p[1], Math.max(1, msDecimals([p[1]]))) + " ms")))));
      } else if (e.data && e.data.metrics) {
        msg.append(" ", h("button", { class: "link", onclick: () => showVerdict(e.data, "Verdict of " + localTime(e.at)) }, "numbers"));
      }
      // A webhook's call or answer says which hook, of which type, and
      // how it went, in its chip: the kind alone ("webhook") read the
      // same for a pass, a fail and a hold.
      const chips = e.kind === "webhook" ? webhookChips(e, s) : [h("span", { class: "chip " + e.kind }, e.kind)];
      ul.append(h("li", { class: rollback ? "rollback" : "", dataset: { kind: e.kind } },
        h("span", { class: "muted" }, localTime(e.at)), h("span", {}, ...chips.flatMap((c) => [c, " "]), fmtPercent(e.percent) + "%"), msg));
    }
    return ul;
  }

  // verdictWhen says when a verdict was taken, " at 07:41:37, 2m 5s ago"
  // (the ago while the rollout is live), as the CLI's Verdict line does:
  // the card's Analysis line is the last analysis, and during a pause, which
  // stops the analyses, its "2 of 100" stood beside a live sample of 45 as
  // if it were as new.
  function verdictWhen(v, live) {
    const t = new Date(v.at).getTime();
    if (!(t > 0)) return "";
    const ago = Date.now() - t;
    return " at " + localTime(v.at) + (live && ago >= 1000 ? ", " + durationText(ago) + " ago" : "");
  }

  function renderRollout() {
    const body = clear($("rollout-body"));
    const st = state.status;
    updateActions();
    if (!st) {
      body.append(h("p", { class: "muted", id: "no-rollout" }, "No rollout for " + state.model + " yet. Start one with ",
        h("code", {}, "sluice rollout start " + state.model + " --to VERSION --reason \"…\""), "."));
      return;
    }
    renderCard(body, st, "", true);
  }

  // renderCard draws a rollout's card into body from its status (GET
  // /admin/v1/rollouts/{model}): the live one's (live, p "") with the
  // verdicts this page follows, or an ended one's from the History tab
  // (p "past-"), read-only, with the verdicts its events kept.
  function renderCard(body, st, p, live) {
    const r = st.rollout, s = r.spec;
    const ended = r.ended_at && !ACTIVE_PHASES.includes(r.phase);
    // A step held for a webhook (Rollout.WebhookWait) says so beside the
    // phase: "progressing" alone hid that the promotion waits for an
    // approval, which no analysis or hold will give.
    const ww = r.webhook_wait && ACTIVE_PHASES.includes(r.phase) && r.phase !== "paused" ? r.webhook_wait : null;
    const waiting = ww ? h("span", { class: "chip held", id: p + "rollout-waiting", title: ww.message ? "it last answered: " + ww.message : "its first answer is awaited" },
      (ww.type === "stage" ? "waiting for stage check: " : "waiting for approval: ") + ww.webhook) : null;
    body.append(h("div", { class: "rollout-head" },
      h("span", { class: "id" }, r.id),
      h("span", { class: "chip " + r.phase, id: p + "rollout-phase" }, r.phase),
      waiting,
      h("span", {}, s.strategy + ": ", h("b", {}, s.baseline), " → ", h("b", {}, s.candidate)),
      live ? h("span", { class: "muted" }, "started " + localTime(r.started_at) + " by " + r.actor + ": " + r.reason)
        : h("span", { class: "muted", id: p + "rollout-started" }, "started " + utc(r.started_at) + " UTC by " + (r.actor || "–") + ": " + (r.reason || "–") +
          (ended ? " · ended " + utc(r.ended_at) + " UTC, took " + tookText(r) : ""))));
    body.append(renderTimeline(r, p));
    const traffic = { name: s.model, policy: { kind: "split", split: [{ version: s.baseline, percent: 100 - r.percent }, { version: s.candidate, percent: r.percent }] }, serving: [] };
    // The candidate's failed requests are a click away: the Requests tab
    // filtered to its version, failed only, over the analysis's window
    // (from when it took live traffic, as the controller reads it), to
    // the rollout's end for an ended one.
    const failedQ = new URLSearchParams({ model: s.model, version: s.candidate, failed: "true", since: r.live_at || r.stage_started_at || r.started_at });
    if (ended) failedQ.set("until", r.ended_at);
    body.append(h("div", { class: "progress-row" }, h("span", { class: "muted" }, live || !ended ? "Traffic" : "Traffic at its end"), splitBar(traffic, s.baseline, s.candidate), h("span", {}, "candidate " + fmtPercent(r.percent) + "%",
      r.phase === "shadow" ? null : [h("br"), h("a", { href: "#requests?" + failedQ.toString(), id: p + "rollout-failed-link", class: "small", title: "the request log's failed attempts of " + s.candidate + " since it took live traffic" }, "failed requests of " + s.candidate + " →")])));
    const active = ACTIVE_PHASES.includes(r.phase);
    if (active && st.stage_need > 0) {
      // What it counts, beside the analysis's own count (its reason's
      // "… the analysis needs before any verdict"): from the API
      // (rollout.StageSampleOf), as the CLI's Sample line says it.
      let what = st.stage_sample_of || (r.phase === "shadow" ? "shadow pairs" : "candidate requests");
      // The sample counts a Responses conversation once (stage_requests:
      // the requests it stands for, when more), as the CLI says.
      if (st.stage_requests > st.stage_samples) what += ", a Responses conversation's turns counted once (" + st.stage_requests + " requests)";
      body.append(progressRow("Stage sample", st.stage_samples / st.stage_need, st.stage_samples + " of " + st.stage_need + " " + what, "", p + "sample-progress"));
    }
    // Not in a bake (Rollout.InBake): its clock is the stage's hold, but
    // it is the bake's time, which the bake row below shows.
    const inBake = r.phase === "baking" || (r.phase === "paused" && r.paused_from === "baking");
    if (active && !inBake && (s.strategy === "progressive" || s.strategy === "pipeline") && r.phase !== "shadow" && s.stages[r.stage_index]) {
      const hold = parseDuration(s.stages[r.stage_index].hold);
      let held = parseDuration(r.held_for || 0);
      // As the controller counts it (Rollout.Held): after a resume the
      // hold goes on from hold_from, not from the stage's start.
      if (r.phase !== "paused") held += Date.now() - new Date(r.hold_from || r.stage_started_at).getTime();
      if (hold > 0) body.append(progressRow("Stage hold", held / hold, durationText(Math.min(held, hold)) + " of " + durationText(hold), "hold", p + "hold-progress"));
    }
    if (r.phase === "baking" || r.phase === "paused" && r.paused_from === "baking") {
      // As the controller counts it (Rollout.Baked): the bake's clock is
      // the stage's hold, and the time paused does not count.
      const bake = parseDuration(s.bake), paused = r.phase === "paused";
      let baked = parseDuration(r.held_for || 0);
      if (!paused) baked += Date.now() - new Date(r.hold_from || r.stage_started_at || r.bake_from).getTime();
      baked = Math.min(Math.max(baked, 0), bake);
      const what = paused
        ? ", paused with " + durationText(bake - baked) + " left: all traffic stays on the candidate and nothing rolls it back until resumed (the traffic while paused is not judged); Resume continues the bake, Promote ends it now"
        : ": all traffic on the candidate, rolled back if its error or cancel rate or a gate fails; Promote ends the bake now";
      if (bake > 0) body.append(progressRow("Bake", baked / bake, durationText(baked) + " of " + durationText(bake) + what, "", p + "bake-progress"));
    }
    // What the rollout waits for, from the API's status (api.WaitingFor,
    // the CLI's Next line): a stage at "327 of 100" with its hold done
    // said nothing of waiting for a passing analysis.
    if (st.next) body.append(h("div", { class: "decision next", id: p + "rollout-next" }, h("b", {}, "Next: "), st.next));
    // Paused, the card says who paused it and why, from the pause's event
    // ("paused by NAME: …; REASON"): a bake keeps its promotion's decision,
    // which read as if nothing held it.
    const pausedEv = r.phase === "paused" ? r.events.slice().reverse().find((e) => e.kind === "paused") : null;
    if (pausedEv) {
      const m = /^paused (.*)$/s.exec(pausedEv.message || "");
      body.append(h("div", { class: "decision paused", id: p + "rollout-decision" }, h("b", {}, m ? "Paused " : "Paused: "), m ? m[1] : pausedEv.message));
      if (st.verdict) body.append(h("div", { class: "decision " + st.verdict.outcome, id: p + "rollout-analysis" }, h("b", {}, "Analysis" + verdictWhen(st.verdict, active) + ": "), st.verdict.reason));
    } else if (r.decision) body.append(h("div", { class: "decision " + r.phase, id: p + "rollout-decision" }, h("b", {}, "Decision: "), r.decision));
    else if (st.verdict) body.append(h("div", { class: "decision " + st.verdict.outcome, id: p + "rollout-decision" }, h("b", {}, "Analysis" + verdictWhen(st.verdict, active) + ": "), st.verdict.reason));
    if (st.ab_report) {
      body.append(renderABReport(st.ab_report, p));
      const late = renderLateRatings(st, p);
      if (late) body.append(late);
    }
    const cols = h("div", { class: "cols" });
    const vbox = h("div", { class: "verdict-box", id: p + "verdict-box" });
    // The live card keeps the verdict picked across its redraws; an ended
    // one's is picked in place.
    let shown = live ? state.shownVerdict : null;
    const show = (v, title) => {
      shown = v;
      if (live) state.shownVerdict = v;
      renderVerdict(vbox, v, title, p);
    };
    // With an A/B report above, the verdict is the sequential analysis
    // that watched the test for regressions, not the test's answer. An
    // ended rollout's is its last.
    renderVerdict(vbox, shown || st.verdict, st.ab_report && !shown ? "Last analysis (regression watch)" : !live && !shown ? "Last verdict" : "", p);
    const side = h("div", {});
    side.append(h("h3", {}, "Verdicts"));
    const vl = h("ul", { class: "verdict-list", id: p + "verdict-history" });
    // The live rollout's verdicts are the analyses this gateway heard of;
    // an ended one's, read from the audit by openPast (pastVerdicts).
    const hist = live ? state.verdicts.slice().reverse() : (st.past_verdicts || eventVerdicts(r)).slice().reverse();
    for (const v of hist) {
      vl.append(h("li", { onclick: () => show(v, "Verdict of " + localTime(v.at)) },
        h("span", { class: "muted" }, localTime(v.at) + " "), h("span", { class: "chip " + v.outcome }, v.outcome), " b=" + v.baseline_n + " c=" + v.candidate_n + " ", h("span", { class: "small" }, v.reason)));
    }
    if (!hist.length) vl.append(h("li", { class: "muted" }, live ? "none seen yet" : "none kept with it: its last verdict is beside"));
    if (!live && st.past_verdicts_cut) vl.append(h("li", { class: "muted", id: p + "verdicts-cut" }, "the newest " + PAST_VERDICTS + " are listed; the audit holds every one (sluice audit --action rollout. --analyses --grep " + r.id + ")"));
    if (!live && st.past_verdicts_error) vl.append(h("li", { class: "error", id: p + "verdicts-error" }, "the audit could not be read (" + st.past_verdicts_error + "): these are the verdicts its events kept"));
    side.append(vl, h("h3", {}, "Events"), eventList(r, p, show));
    cols.append(vbox, side);
    body.append(cols);
  }

  // ---- history ----
  // The History tab lists the selected model's rollouts from the store,
  // newest first, a page at a time as the API pages them (GET
  // /admin/v1/rollouts?model=M&history=true&before=ID), as sluice rollout
  // history does; a row opens that rollout's card, read-only, in the tab
  // (GET /admin/v1/rollouts/M?id=ID), leaving the live card as it is.
  const HISTORY_PAGE = 20;

  // tookText says how long r took: start to end, or so far while it runs.
  function tookText(r) {
    if (r.ended_at) return durationText(Math.max(new Date(r.ended_at) - new Date(r.started_at), 0));
    if (ACTIVE_PHASES.includes(r.phase)) return durationText(Math.max(Date.now() - new Date(r.started_at), 0)) + " so far";
    return "–";
  }
  // clip cuts s to n characters, ending a cut one with "…".
  const clip = (s, n) => { const cs = Array.from(s || ""); return cs.length <= n ? s || "" : cs.slice(0, n - 1).join("") + "…"; };
  // outcomeText says in a few words how r ended, as the CLI's OUTCOME
  // column does: its decision's first clause ("aborted by otto: …",
  // "rolled back: the error rate …"), or its phase.
  function outcomeText(r) {
    if (ACTIVE_PHASES.includes(r.phase)) return "under way: its live card is on the Overview";
    const d = String(r.decision || "").split(/\s+/).filter(Boolean).join(" ");
    if (!d) return r.phase.replace("_", " ");
    const i = d.indexOf("; ");
    return clip(i > 0 ? d.slice(0, i) : d, 72);
  }

  // historyMoved is told that the model's live rollout started, moved or
  // ended: the History list, if shown, is read again as far as it was
  // paged; under an open card it is read when Back shows it.
  function historyMoved() {
    if (!state.history || state.history.model !== state.model) return; // read when the tab opens
    if (route().tab === "history" && $("history-past").hidden) loadHistory(false, true);
    else state.history.stale = true;
  }

  // loadHistory reads the History list's first page, or with more the
  // next one; with keep, the first page holds as many rows as the list
  // had (a redraw that keeps the pages Older showed).
  async function loadHistory(more, keep) {
    const tb = $("history-table").querySelector("tbody");
    const older = $("history-older");
    const model = state.model;
    const had = keep && state.history && state.history.model === model ? state.history.rows.length : 0;
    // Each first page starts a new list: an answer still on its way for
    // an older one (a model picked, Refresh) is dropped, not added to it.
    // A redraw keeps the rows shown until its answer replaces them.
    if (!more || !state.history) { state.history = { model: model, rows: [], next: "", gen: ++state.historyGen }; if (!keep) clear(tb); more = false; }
    const gen = state.history.gen;
    if (!model) { clear(tb).append(h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No models are registered yet."))); older.hidden = true; return; }
    const q = new URLSearchParams({ model: model, history: "true", limit: String(Math.min(Math.max(HISTORY_PAGE, had), 10000)) });
    if (more) q.set("before", state.history.next);
    older.disabled = true;
    let a;
    try {
      a = await admin("GET", "/rollouts?" + q.toString());
    } catch (e) {
      if (state.model === model && state.history && state.history.gen === gen) tb.append(h("tr", {}, h("td", { colspan: 9, class: "error" }, e.message)));
      return;
    } finally {
      older.disabled = false;
    }
    // Another model was picked, or the list started again, while this
    // page was on its way.
    if (state.model !== model || !state.history || state.history.gen !== gen) return;
    if (!more) clear(tb);
    state.history.rows.push(...a.rollouts);
    state.history.next = a.truncated ? a.next_before : "";
    for (const r of a.rollouts) {
      const s = r.spec, live = ACTIVE_PHASES.includes(r.phase);
      tb.append(h("tr", { class: "clickable", dataset: { id: r.id }, title: live ? "the rollout under way: its live card is on the Overview" : "show " + r.id + " whole",
        onclick: () => { location.hash = live ? "#overview" : pastLink(model, r.id); } },
        h("td", { class: "mono" }, utc(r.started_at)),
        h("td", { class: "mono" }, h("button", { type: "button", class: "link mono" }, r.id)), // a click reaches the row; Tab and Enter reach it too
        h("td", {}, s.strategy),
        h("td", {}, h("b", {}, s.baseline), " → ", h("b", {}, s.candidate)),
        h("td", {}, h("span", { class: "chip " + r.phase }, r.phase)),
        h("td", { title: r.decision || "" }, outcomeText(r)),
        h("td", {}, r.actor || "–"),
        h("td", { title: r.reason || "" }, clip(r.reason, 60) || "–"),
        h("td", { class: "n" }, tookText(r))));
    }
    if (!state.history.rows.length) {
      tb.append(h("tr", {}, h("td", { colspan: 9, class: "muted", id: "no-history" }, "No rollouts of " + model + " yet. Start one with ",
        h("code", {}, "sluice rollout start " + model + " --to VERSION --reason \"…\""), ".")));
    }
    older.hidden = !a.truncated;
    const n = state.history.rows.length;
    $("history-note").textContent = n ? "The " + (n === 1 ? "rollout" : n + " rollouts") + " of " + model + (a.truncated ? " newest first; Older shows the ones before." : ", newest first.") + " Click one to see it whole." : "";
  }

  // PAST_VERDICTS is how many verdicts an ended rollout's card lists at
  // most, the newest, as the live card keeps (ui's maxVerdictsKept).
  const PAST_VERDICTS = 500;

  // eventVerdicts are the verdicts r's events kept (those of the analyses
  // that decided something), with every metric's numbers.
  const eventVerdicts = (r) => r.events.filter((e) => e.data && e.data.metrics).map((e) => e.data);

  // pastVerdicts reads ended rollout r's verdicts, oldest first, as the
  // live card lists its rollout's: from the audit (GET /admin/v1/audit),
  // where each rollout.analysis entry, and each rollout.decision entry of
  // an analysis that moved it, holds its verdict's summary; a verdict its
  // events kept too is taken from the event, which has the numbers.
  async function pastVerdicts(model, r) {
    // The rollout's other entries (start, pause, abort, ...) are few.
    const q = new URLSearchParams({ model: model, action: "rollout.", q: r.id, limit: String(PAST_VERDICTS + 64) });
    const a = await admin("GET", "/audit?" + q.toString());
    const byAt = new Map();
    for (const e of a.entries) {
      const v = e.subject === r.id && e.after && e.after.verdict;
      if (!v || !v.at || !(new Date(v.at).getTime() > 0)) continue; // not a verdict, or written by a release that did not record it
      byAt.set(new Date(v.at).getTime(), Object.assign({}, v, { metrics: v.metrics || [] }));
    }
    for (const v of eventVerdicts(r)) byAt.set(new Date(v.at).getTime(), v);
    const list = Array.from(byAt.entries()).sort((x, y) => x[0] - y[0]).map((x) => x[1]);
    return { verdicts: list.slice(-PAST_VERDICTS), cut: list.length > PAST_VERDICTS || !!a.truncated };
  }

  // pastLink is the page's address of model's rollout id: an SRE pastes
  // it into an incident channel, and it opens that rollout's card (after
  // signing in if needed).
  const pastLink = (model, id) => "#history/" + enc(model) + "/" + enc(id);

  // showPast puts the past pane in place of the list, with what to show.
  function showPast(model, ...kids) {
    clear($("past-body")).append(...kids);
    $("history-list").hidden = true;
    $("history-past").hidden = false;
    $("history-back").textContent = "← All rollouts of " + model;
  }

  // openLinked opens the rollout the address names (route()), picking its
  // model first; the card already shown stays.
  async function openLinked(rt) {
    if (state.pastShown === rt.model + "/" + rt.id && !$("history-past").hidden) return;
    if (rt.model !== state.model) {
      if (!state.models.some((m) => m.name === rt.model)) {
        showPast(rt.model, h("p", { class: "error", id: "past-error" }, "The link names model " + rt.model + ", which this gateway does not have: pick a model above and look for the rollout in its list."));
        return;
      }
      $("model-select").value = rt.model;
      await selectModel(rt.model, true);
    }
    await openPast(rt.id);
  }

  // openPast shows rollout id of the selected model whole, read-only, in
  // place of the list (the address is its link, pastLink); Back returns to
  // the list as it was. An id the model does not have says so there.
  async function openPast(id) {
    const model = state.model;
    state.pastShown = model + "/" + id;
    let st;
    try {
      st = await admin("GET", "/rollouts/" + enc(model) + "?id=" + enc(id));
    } catch (e) {
      if (state.model !== model || state.pastShown !== model + "/" + id) return;
      showPast(model, h("p", { class: "error", id: "past-error" }, e.message));
      return;
    }
    if (state.model !== model || state.pastShown !== model + "/" + id) return;
    // A link to the rollout under way: its live card is on the Overview,
    // as its row in the list leads there.
    if (ACTIVE_PHASES.includes(st.rollout.phase)) {
      state.pastShown = "";
      location.replace("#overview");
      return;
    }
    try {
      const pv = await pastVerdicts(model, st.rollout);
      st.past_verdicts = pv.verdicts;
      st.past_verdicts_cut = pv.cut;
    } catch (e) {
      st.past_verdicts_error = e.message;
    }
    // Another model was picked, or another rollout opened, meanwhile.
    if (state.model !== model || state.pastShown !== model + "/" + id) return;
    const card = h("div", {});
    renderCard(card, st, "past-", false);
    showPast(model, h("p", { class: "muted small", id: "past-note" }, "An earlier rollout of " + model + ", as it ended: read-only. The live one is on the Overview."), card);
    // The History tab goes back to this card from another tab.
    document.querySelector('a[data-tab="history"]').setAttribute("href", pastLink(model, id));
    window.scrollTo(0, 0);
  }

  function closePast() {
    $("history-past").hidden = true;
    clear($("past-body"));
    $("history-list").hidden = false;
    state.pastShown = "";
    document.querySelector('a[data-tab="history"]').setAttribute("href", "#history");
  }

  function updateActions() {
    const r = state.status && state.status.rollout;
    const phase = r ? r.phase : "";
    const allowed = {
      promote: ["progressing", "preview", "shadow", "paused", "baking"].includes(phase),
      pause: ["progressing", "preview", "shadow", "baking"].includes(phase),
      resume: phase === "paused",
      abort: ACTIVE_PHASES.includes(phase),
      conclude: concludable(r),
    };
    // Concluding is a decision on the report: offered to those who may
    // take it, while there is one to take.
    $("conclude-actions").hidden = !(state.canAct && allowed.conclude);
    // A viewer acts on nothing: no reason to ask for.
    $("rollout-reason").hidden = !state.canAct;
    $("split-reason").hidden = !state.canAct;
    if (r) {
      document.querySelector('#conclude-actions [data-pick="candidate"]').title = "ship " + r.spec.candidate + " to all traffic, ending the A/B test " + r.id;
      document.querySelector('#conclude-actions [data-pick="baseline"]').title = "keep " + r.spec.baseline + ", ending the A/B test " + r.id;
    }
    document.querySelectorAll("#rollout-actions button, #split-form button").forEach((b) => {
      const a = b.dataset.action;
      if (a in allowed) b.disabled = !allowed[a];
      if (a === "conclude") return;
      b.classList.toggle("locked", !state.canAct);
      b.title = state.canAct ? "" : "your token is a " + state.role + ": the server will refuse this (operators and admins only)";
    });
  }

  async function loadRollout() {
    if (!state.model) { state.status = null; renderRollout(); return; }
    // The models list says whether the model has a rollout: asking for
    // one it does not have answers 404, which the browser logs as an
    // error at every refresh. A list without the field comes from an
    // older replica (mid-upgrade, behind a load balancer): ask then.
    const m = state.models.find((x) => x.name === state.model);
    let st = null;
    if (m && (m.rollout === undefined || m.rollout)) {
      try {
        st = await admin("GET", "/rollouts/" + enc(state.model));
      } catch (e) {
        if (e.status !== 404) throw e;
      }
    }
    state.status = st;
    const r = state.status && state.status.rollout;
    // The live rollout's row in the History list follows it: a start, a
    // phase change, its end, heard of here (the stream's ticks), redraw
    // the list; no timer of its own.
    const key = r ? r.id + " " + r.phase : "";
    if (state.liveKey && state.liveKey.model === state.model && state.liveKey.key !== key) historyMoved();
    state.liveKey = { model: state.model, key: key };
    state.baseline = r ? r.spec.baseline : "";
    state.candidate = r ? r.spec.candidate : "";
    renderRollout();
    renderModels();
  }

  async function loadVerdicts() {
    if (!state.model) return;
    const v = await call("GET", "/ui/api/verdicts?model=" + enc(state.model));
    state.verdicts = v.verdicts || [];
  }

  // What each rollout action is called in the prompt for its reason.
  const ACTION_WORDS = {
    promote: "promote", pause: "pause", resume: "resume", abort: "abort",
    conclude: { candidate: "ship the candidate", baseline: "keep the baseline" },
  };

  // act sends a rollout action with the reason from the rollout's one
  // reason box. Every action needs a reason, as every change does: an
  // empty box is refused here, before anything is sent, and focused. A
  // viewer's click goes to the server, whose refusal names their role.
  async function act(action, pick) {
    if (!state.model) return;
    const box = $("rollout-reason");
    const body = { reason: box.value.trim() };
    if (action === "conclude") body.pick = pick;
    if (!body.reason && state.canAct) {
      const words = action === "conclude" ? ACTION_WORDS.conclude[pick] : ACTION_WORDS[action] || action;
      flash("Give a reason to " + words + ": it goes into the audit log" + (action === "conclude" ? " with your pick." : "."), true);
      box.focus();
      return;
    }
    try {
      const r = await admin("POST", "/rollouts/" + enc(state.model) + "/" + action, body);
      if (action === "conclude") {
        flash("A/B test " + r.id + " concluded for the " + pick + ": " + r.phase + " (candidate at " + fmtPercent(r.percent) + "%)");
      } else {
        flash("Rollout " + r.id + ": " + r.phase + " (candidate at " + fmtPercent(r.percent) + "%)");
      }
      box.value = "";
    } catch (e) {
      flash("Refused: " + e.message, true);
    }
    await refreshAll();
  }

  // ---- split editor ----
  function renderSplitEditor() {
    const box = clear($("split-inputs"));
    const m = state.models.find((x) => x.name === state.model);
    if (!m) return;
    for (const v of m.versions.filter((v) => v.stage !== "retired")) {
      const cur = m.policy.kind === "split" ? (m.policy.split || []).find((w) => w.version === v.version) : null;
      const p = cur ? cur.percent : m.serving.length === 1 && m.serving[0] === v.version ? 100 : 0;
      box.append(h("label", {}, v.version, h("input", { type: "number", min: 0, max: 100, step: "0.01", value: p, dataset: { version: v.version } }), "%"));
    }
  }

  async function setSplit(ev) {
    ev.preventDefault();
    const weights = [];
    for (const inp of $("split-inputs").querySelectorAll("input")) {
      const p = parseFloat(inp.value);
      if (p > 0) weights.push({ version: inp.dataset.version, percent: p });
    }
    const reason = $("split-reason").value.trim();
    // As for the rollout's actions, a viewer's click goes to the server,
    // whose refusal names their role.
    if (!reason && state.canAct) { flash("Give a reason for the split: it goes into the audit log.", true); $("split-reason").focus(); return; }
    try {
      await admin("PUT", "/models/" + enc(state.model) + "/split", { weights: weights, reason: reason });
      flash("Split of " + state.model + " set: " + weights.map((w) => w.version + "=" + w.percent).join(" "));
      $("split-reason").value = "";
    } catch (e) {
      flash("Refused: " + e.message, true);
    }
    await refreshAll();
  }

  // ---- charts ----
  // The running rollout's two arms; after it ends, every version the
  // gateway charts (the ended rollout's arms while the charts reach back to
  // its end, and whatever the split serves now).
  function chartVersions() {
    const r = state.status && state.status.rollout;
    if (state.baseline && state.candidate && r && !r.ended_at) return [state.baseline, state.candidate];
    return Object.keys(state.series).sort();
  }

  function renderLegend() {
    const lg = clear($("legend"));
    chartVersions().forEach((v, i) => {
      const sw = h("span", { class: "sw" });
      sw.style.background = versionColor(v, i);
      const role = v === state.baseline ? " (stable)" : v === state.candidate ? " (candidate)" : "";
      lg.append(h("span", {}, sw, v + role));
    });
  }

  function renderCharts() {
    const versions = chartVersions();
    let tMax = 0;
    for (const v of versions) { const p = state.series[v] || []; if (p.length) tMax = Math.max(tMax, p[p.length - 1].t); }
    let tMin = null;
    if (tMax) {
      tMin = tMax;
      for (const v of versions) for (const p of state.series[v] || []) if (p.t >= tMax - WINDOW_MS) { tMin = Math.min(tMin, p.t); break; }
    }
    const pick = (f) => (p) => [p.t, f(p)];
    // A rate's axis ends at 100%.
    const defs = {
      rps: { f: (p) => p.rps },
      err: { f: (p) => (p.n ? 100 * p.err : null), max: 100 },
      ref: { f: (p) => (p.n ? 100 * p.ref : null), max: 100 },
      tool: { f: (p) => (p.tool != null ? 100 * p.tool : null), max: 100 },
      ttft: { f: (p) => p.ttft },
      tok: { f: (p) => p.tok },
    };
    document.querySelectorAll("#charts .chart").forEach((fig) => {
      const metric = fig.dataset.metric, svg = fig.querySelector("svg");
      const series = [];
      versions.forEach((v, i) => {
        const pts = (state.series[v] || []).filter((p) => !tMin || p.t >= tMin);
        const color = versionColor(v, i);
        if (metric === "lat") {
          series.push({ name: v + " p50", color: color, points: pts.map(pick((p) => p.p50)) });
          series.push({ name: v + " p99", color: color, dash: true, width: 1.5, points: pts.map(pick((p) => p.p99)) });
        } else {
          series.push({ name: v, color: color, points: pts.map(pick(defs[metric].f)) });
        }
      });
      // Points come every step: a pause of several is a time nothing was
      // sampled, drawn as a break, not a line.
      SluiceChart.draw(svg, series, { tMin: tMin, tMax: tMax || null, max: (defs[metric] || {}).max, gap: 5 * (state.stepMs || 1000) });
    });
    renderLegend();
    // The charts' past comes from the request log, and what the gateway
    // sampled since a dashboard opened: when they reach back less than the
    // window, say from when, so an empty start is not read as no traffic.
    const partial = tMin && tMax - tMin < WINDOW_MS - 60000;
    let note = "Each point summarises the trailing " + (state.smoothMs / 1000 || 10) + " s of " + (state.category ? "category " + state.category : "all traffic") + "; the last 10 minutes are shown" +
      (partial ? ", from " + SluiceChart.fmtTime(tMin) + " only: the request log holds nothing earlier of these versions, and a line breaks where there is no point." : ".");
    // Mirrored (shadow) requests are not in the request log: a version
    // whose line starts where the sampling did, while another's reaches
    // back before it, was charted only since then.
    const from = state.sampledFrom;
    if (from && tMin && tMin < from - 5 * (state.stepMs || 1000)) {
      const late = versions.filter((v) => { const p = state.series[v] || []; return p.length && p[0].t >= from; });
      if (late.length) note += " " + late.join(", ") + ": charted from " + SluiceChart.fmtTime(from) + " only, when a dashboard opened; its mirrored (shadow) requests are not in the request log, which the charts' past is read from.";
    }
    // The request log could not be read (the store is down): the charts
    // hold what this gateway sampled since it began, nothing before.
    if (state.pastUnread) note += " The charts' past could not be read from the request log (the store did not answer): they show what this gateway sampled since " + (from ? SluiceChart.fmtTime(from) : "now") + " only; it is read again every " + Math.round((state.pastRetryMs || 30000) / 1000) + " s.";
    $("charts-note").textContent = note;
  }

  async function loadSeries() {
    if (!state.model) return;
    const a = await call("GET", "/ui/api/series?model=" + enc(state.model) + "&category=" + enc(state.category));
    state.series = a.series || {};
    state.smoothMs = a.smooth_ms;
    state.stepMs = a.step_ms;
    state.sampledFrom = a.sampled_from || 0;
    state.pastUnread = !!a.past_unread;
    state.pastRetryMs = a.retry_ms || 30000;
    state.pastRetryAt = Date.now() + state.pastRetryMs;
    state.lastT = 0;
    for (const v in state.series) { const p = state.series[v]; if (p.length) state.lastT = Math.max(state.lastT, p[p.length - 1].t); }
    setCategories(a.categories);
    renderCharts();
  }

  function setCategories(cats) {
    cats = cats || [];
    if (state.categories && cats.join() === state.categories.join()) return;
    state.categories = cats;
    const sel = $("category-select");
    clear(sel);
    sel.append(h("option", { value: "" }, "all traffic"));
    for (const c of cats) sel.append(h("option", { value: c }, c));
    sel.value = state.category;
  }

  function mergePoints(series) {
    for (const v in series || {}) {
      const cur = state.series[v] || (state.series[v] = []);
      for (const p of series[v]) if (!cur.length || p.t > cur[cur.length - 1].t) cur.push(p);
      const cut = Date.now() - 20 * 60 * 1000;
      while (cur.length && cur[0].t < cut) cur.shift();
      if (cur.length) state.lastT = Math.max(state.lastT, cur[cur.length - 1].t);
    }
  }

  // setLive shows whether the page is receiving live updates, in words as
  // well as colour: a grey dot beside the word "live" read as live.
  function setLive(on) {
    const el = $("live");
    el.className = "live " + (on ? "on" : "off");
    el.textContent = on ? "● live" : "○ not live: reconnecting…";
    el.title = on ? "live updates (server-sent events)" : "live updates stopped: the numbers shown are not current; reconnecting";
  }

  function connect() {
    if (state.es) state.es.close();
    if (!state.model) return;
    const es = new EventSource("/ui/api/events?model=" + enc(state.model) + "&category=" + enc(state.category) + "&after=" + state.lastT);
    state.es = es;
    es.onopen = () => setLive(true);
    es.onerror = () => {
      setLive(false);
      // The browser retries a dropped stream by itself, but not one the
      // gateway refused (after a restart the session is gone: 401). Ask
      // for the session: call() goes back to sign-in on 401; else try the
      // stream again shortly.
      if (es.readyState === EventSource.CLOSED && state.es === es) {
        setTimeout(async () => {
          if (state.es !== es) return;
          try { await call("GET", "/ui/api/session"); } catch (e) { /* unreachable: try again */ }
          if (state.es === es) connect();
        }, 2000);
      }
    };
    // The stream's recheck of the session failed: ask for the session,
    // so that call() takes the page to sign-in with the gateway's reason
    // (or, if the session serves after all, the stream starts again).
    es.addEventListener("signed_out", async () => {
      es.close();
      setLive(false);
      try { await call("GET", "/ui/api/session"); } catch (e) { /* unreachable: try again */ }
      if (state.es === es) connect();
    });
    es.addEventListener("tick", async (ev) => {
      setLive(true);
      const t = JSON.parse(ev.data);
      if (t.model !== state.model || t.category !== state.category) return;
      mergePoints(t.series);
      setCategories(t.categories);
      state.ticks++;
      // The charts' past could not be read (the store did not answer):
      // once the gateway would read it again, ask for the series whole.
      if (state.pastUnread && Date.now() >= state.pastRetryAt) {
        state.pastRetryAt = Infinity; // one ask at a time
        loadSeries().catch((e) => { state.pastRetryAt = Date.now() + (state.pastRetryMs || 30000); console.warn(e); });
      }
      if (document.hidden) return;
      renderCharts();
      if (state.refreshing) return;
      state.refreshing = true;
      try {
        const active = state.status && ACTIVE_PHASES.includes(state.status.rollout.phase);
        if (t.revision !== state.revision || t.verdicts !== state.verdicts.length) {
          await loadModels();
          await loadVerdicts();
          await loadRollout();
        } else if (active) {
          await loadRollout();
        }
        if (state.ticks % 5 === 0) await loadCategories();
      } catch (e) {
        console.warn(e);
      } finally {
        state.refreshing = false;
      }
    });
  }

  // ---- categories ----
  async function loadCategories() {
    if (!state.model) return;
    const a = await call("GET", "/ui/api/categories?model=" + enc(state.model));
    const head = clear($("categories-table").querySelector("thead"));
    const body = clear($("categories-table").querySelector("tbody"));
    // With no rollout the table is a sliding window: "since 02:15:54" read
    // as if something had happened then.
    // The span the data covers: a gateway up for 5 minutes has no 15.
    const span = "Serving versions over the last " + durationText(Math.max(Date.now() - new Date(a.since).getTime(), 0)) + " (since " + localTime(a.since) + (a.from_first ? ", the first request observed" : "") + ")";
    // After a rollout ends its arms stay as long as the charts keep them:
    // the note says why a version no longer serving is in the table.
    const ended = (a.ended || []).length ? ", with " + a.ended.join(" and ") + " of the rollout that ended at " + localTime(a.ended_at) : "";
    $("categories-note").textContent = (a.candidate ? "Stable " + a.baseline + " → candidate " + a.candidate + (a.cut ? ", since " : ", since the candidate went live at ") + localTime(a.since) : span + ended) +
      (a.cut ? " (the busiest windows hold only their newest requests, so the table starts there)." : ".");
    // A rate column is told by its format, not its title: "Canceled" holds
    // no "rate", and its cells were held to the 50 ms of a latency, which
    // no rate reaches, so a candidate whose clients give up was never marked.
    const rateFmt2 = (x) => pct(x, 2), rateFmt1 = (x) => pct(x, 1);
    // A latency column takes one precision, from all its cells: under a
    // millisecond they would all read 0.
    const msFmt = (f) => {
      const xs = [];
      for (const row of a.rows) for (const v of a.versions) xs.push(f(row.versions[v] || {}));
      const d = msDecimals(xs);
      return (x) => num(x, d);
    };
    const p50 = (s) => s.p50_ms, p99 = (s) => s.p99_ms, ttft = (s) => s.ttft_ms;
    const cols = [["Requests", (s) => s.requests, (x) => num(x)], ["Error rate", (s) => s.error_rate, rateFmt2, true], ["Canceled", (s) => s.cancel_rate, rateFmt2, true], ["Refusal rate", (s) => s.refusal_rate, rateFmt1, true], ["Tool calls", (s) => s.tool_call_rate, rateFmt1],
      ["p50 ms", p50, msFmt(p50)], ["p99 ms", p99, msFmt(p99), true], ["TTFT ms", ttft, msFmt(ttft)], ["Tokens", (s) => s.tokens, (x) => num(x, 0)]];
    const pair = a.candidate && a.versions.length === 2;
    head.append(h("tr", {}, h("th", {}, "Category"), pair ? null : h("th", {}, "Version"), cols.map((c) => h("th", { class: "n" }, c[0] + (pair ? " (stable → cand.)" : "")))));
    for (const row of a.rows) {
      const name = row.category || "all traffic";
      if (pair) {
        const b = row.versions[a.baseline] || {}, c = row.versions[a.candidate] || {};
        body.append(h("tr", { dataset: { category: row.category } }, h("td", {}, row.category ? name : h("b", {}, name)), cols.map(([_, f, fmt, worseIsUp]) => {
          const bv = f(b), cv = f(c);
          let cls = "n", mark = "", title = "";
          if (worseIsUp && bv != null && cv != null && c.requests >= 20) {
            // A mark and a title besides the colour, which alone does not
            // reach everyone.
            if (cv > bv * 1.5 && cv - bv > (fmt === rateFmt2 || fmt === rateFmt1 ? 0.01 : 50)) [cls, mark, title] = [cls + " delta-bad", " ▲", "the candidate is worse here"];
            else if (cv < bv * 0.8) [cls, mark, title] = [cls + " delta-good", " ▼", "the candidate is better here"];
          }
          return h("td", title ? { class: cls, title: title } : { class: cls }, fmt(bv) + " → " + fmt(cv) + mark);
        })));
      } else {
        for (const v of a.versions) {
          const s = row.versions[v] || {};
          body.append(h("tr", {}, h("td", {}, name), h("td", {}, v), cols.map(([_, f, fmt]) => h("td", { class: "n" }, fmt(f(s))))));
        }
      }
    }
    if (!a.rows.length || !a.versions.length) body.append(h("tr", {}, h("td", { colspan: 11, class: "muted" }, "no traffic observed yet")));
  }

  // ---- shadow ----
  // SHADOW_PAGE is how many pairs the Shadow review tab shows at a time.
  const SHADOW_PAGE = 50;
  async function loadShadow() {
    const box = clear($("shadow-list"));
    $("shadow-older").hidden = true;
    // Only the newest load fills the list: a filter changed, a model
    // picked or Refresh while an answer is on its way makes that answer
    // stale (appended, it listed pairs for filters no longer set).
    const gen = state.shadowGen = (state.shadowGen || 0) + 1;
    if (!state.model) {
      box.append(h("div", { class: "empty-state", id: "no-shadow" }, h("b", {}, "No model is registered yet."),
        h("p", {}, "Shadow pairs are collected while a rollout mirrors a model's traffic to its candidate: register the model with sluice apply -f models.yaml, then start a shadow run with sluice rollout start MODEL --to VERSION --strategy shadow.")));
      return;
    }
    // The category filter offers the model's categories (the charts'),
    // keeping the one picked while it is among them.
    const catSel = $("shadow-category"), picked = catSel.value;
    clear(catSel).append(h("option", { value: "" }, "all"));
    for (const c of state.categories || []) catSel.append(h("option", { value: c }, c));
    catSel.value = (state.categories || []).includes(picked) ? picked : "";
    const differ = $("shadow-differ").checked, category = catSel.value;
    let a;
    try {
      if (differ || category) {
        // Filtered as sluice rollout pairs filters them, by the admin API
        // (which withholds the texts from a viewer as this page's own
        // answer does).
        const q = new URLSearchParams({ limit: "50" });
        if (differ) q.set("differ", "true");
        if (category) q.set("category", category);
        a = await admin("GET", "/shadow/" + enc(state.model) + "/pairs?" + q.toString());
        if (gen !== state.shadowGen) return;
        a.available = true;
        a.more = !!a.truncated;
        if (!(a.pairs || []).length) {
          box.append(h("div", { class: "empty-state", id: "no-shadow" }, h("b", {}, "No shadow pair of " + state.model + " kept matches: "),
            "none " + (differ ? "differs" + (category ? " in category " + category : "") : "in category " + category) + "."));
          return;
        }
      } else {
        // One more than shown: whether older pairs are kept.
        a = await call("GET", "/ui/api/shadow?model=" + enc(state.model) + "&limit=51");
        a.more = (a.pairs || []).length > 50;
        a.pairs = (a.pairs || []).slice(0, 50);
        if (a.more) a.next_before = a.pairs[49].seq;
      }
    } catch (e) {
      if (gen === state.shadowGen) box.append(h("p", { class: "error" }, e.message));
      return;
    }
    if (gen !== state.shadowGen) return;
    const pairs = a.pairs || [];
    if (!a.available || !pairs.length) {
      box.append(h("div", { class: "empty-state", id: "no-shadow" },
        h("b", {}, "No shadow pairs" + (state.model ? " for " + state.model : "") + "."),
        h("p", {}, a.available ? "Pairs are collected while a rollout mirrors traffic to its candidate (strategy shadow or pipeline): start one with sluice rollout start " + state.model + " --to VERSION --strategy shadow." : "This gateway keeps no shadow pairs.")));
      return;
    }
    // The tab shows a page of 50, and Older the 50 before, as the API
    // pages them (before=the last seq shown) and sluice rollout pairs
    // --before does; the line above the pairs says how many are shown and
    // whether more are kept.
    state.shadow = { gen: gen, model: state.model, differ: differ, category: category, shown: 0, next: a.more ? a.next_before : 0, withheld: !!a.texts_withheld };
    if (a.texts_withheld) box.append(h("p", { class: "muted", id: "shadow-withheld" }, "The answers' texts are shown to operators and admins only: a viewer sees how the answers differ, as the request log shows how requests went, not what users wrote or were told."));
    appendPairs(box, pairs, !!a.texts_withheld);
    shadowMoreLine();
  }

  // shadowMoreLine says how many pairs the list shows and, while more are
  // kept, shows Older and the CLI command that lists the rest.
  function shadowMoreLine() {
    const st = state.shadow, older = $("shadow-older");
    older.hidden = !st.next;
    // The line is there only when it says something: the pairs are the
    // list's first children otherwise, as they were.
    let line = $("shadow-more");
    if (!line) {
      line = h("p", { class: "muted", id: "shadow-more", hidden: true });
      $("shadow-list").prepend(line);
    }
    const match = st.differ || st.category ? " that match" : "";
    if (st.next) {
      const cmd = "sluice rollout pairs " + st.model + (st.differ ? " --differ" : "") + (st.category ? " --category " + st.category : "") + " --before " + st.next;
      clear(line).append("Showing the newest " + st.shown + " of the pairs kept" + match + "; more are kept: ", h("code", {}, cmd), " lists the older ones, and Older below shows the next " + SHADOW_PAGE + " here.");
      line.hidden = false;
    } else if (st.shown > SHADOW_PAGE) {
      clear(line).append("Showing " + st.shown + " pairs" + match + ", down to the oldest kept.");
      line.hidden = false;
    } else {
      line.remove();
    }
  }

  // loadShadowOlder adds the next page of pairs, older than those shown,
  // under them.
  async function loadShadowOlder() {
    const st = state.shadow, older = $("shadow-older");
    if (!st || !st.next || st.gen !== state.shadowGen) return;
    const q = new URLSearchParams({ limit: String(SHADOW_PAGE), before: String(st.next) });
    if (st.differ) q.set("differ", "true");
    if (st.category) q.set("category", st.category);
    older.disabled = true;
    let a;
    try {
      a = await admin("GET", "/shadow/" + enc(st.model) + "/pairs?" + q.toString());
    } catch (e) {
      if (st.gen === state.shadowGen) flash(e.message, true);
      return;
    } finally {
      older.disabled = false;
    }
    // A filter changed, a model picked or Refresh meanwhile: the list
    // this page was for is gone.
    if (st.gen !== state.shadowGen) return;
    st.next = a.truncated ? a.next_before : 0;
    appendPairs($("shadow-list"), a.pairs || [], st.withheld || !!a.texts_withheld);
    shadowMoreLine();
  }

  // appendPairs draws each pair, both answers side by side with their
  // differences, at the end of box.
  function appendPairs(box, pairs, withheld) {
    state.shadow.shown += pairs.length;
    for (const p of pairs) {
      const P = p.primary || {}, S = p.shadow || {}, d = p.diff || {};
      const badges = [];
      const dc = d.chars != null ? d.chars : (S.chars || 0) - (P.chars || 0);
      badges.push(h("span", { class: "chip" + (Math.abs(dc) > 0.5 * Math.max(P.chars || 1, 1) ? " fail" : "") }, "length " + (dc >= 0 ? "+" : "") + dc + " chars"));
      const dl = d.latency_ms != null ? d.latency_ms : (S.latency_ms || 0) - (P.latency_ms || 0);
      const msd = msDecimals([P.latency_ms, S.latency_ms]);
      badges.push(h("span", { class: "chip" + (d.latency_ratio > 1.5 ? " fail" : "") }, "latency " + (dl >= 0 ? "+" : "") + num(dl, msd) + " ms" + (d.latency_ratio ? " (×" + Number(d.latency_ratio).toFixed(2) + ")" : "")));
      if (d.refusal && d.refusal !== "none") badges.push(h("span", { class: "chip " + (d.refusal === "shadow_only" ? "fail" : "inconclusive") }, "refusal: " + d.refusal.replace("_", " ")));
      if (d.tool_call === "primary_only" || d.tool_call === "shadow_only") badges.push(h("span", { class: "chip inconclusive" }, "tool call: " + d.tool_call.replace("_", " ")));
      if (d.tool_call === "both" && d.calls) badges.push(h("span", { class: "chip" + (d.calls === "same" ? " pass" : d.calls === "cut" ? " inconclusive" : " fail") }, { same: "same tool calls", names: "other tools called", arguments: "other tool arguments", cut: "same tool calls as far as kept (arguments cut)" }[d.calls] || "tool calls: " + d.calls));
      if (d.error && d.error !== "none") badges.push(h("span", { class: "chip fail" }, "error: " + d.error.replace("_", " ")));
      badges.push(h("span", { class: "chip" + (d.same_text ? " pass" : "") }, d.same_text ? "same text" : "different text"));
      // Each tool call as name(arguments); a viewer gets the names only.
      const calls = (x) => (x.tool_calls || []).length ? h("div", { class: "pair-calls mono" }, (x.tool_calls || []).map((c) =>
        h("div", {}, (c.name || "?") + "(" + (withheld ? "…" : (c.arguments || "") + (c.cut ? "…" : "")) + ")"))) : null;
      const side = (x, title) => h("div", {},
        h("div", { class: "pair-side-head" }, title + " " + (x.version || "") + " · " + (x.status || "") + " · " + num(x.latency_ms, msd) + " ms · " + (x.output_tokens || 0) + " tokens · " + (x.chars || 0) + " chars" + (x.refusal ? " · refusal" : "") + (x.error ? " · " + x.error : "")),
        calls(x),
        h("pre", {}, x.text || ""));
      box.append(h("div", { class: "pair" },
        h("div", { class: "pair-head" }, h("span", { class: "muted" }, localTime(p.at)), h("span", { class: "mono" }, p.request_id || ""), p.category ? h("span", { class: "chip" }, p.category) : null, badges),
        h("div", { class: "pair-body" }, side(P, "Served (stable)"), side(S, "Shadow (candidate)"))));
    }
  }

  // ---- audit ----
  async function loadAudit(ev) {
    if (ev) ev.preventDefault();
    const q = new URLSearchParams({ limit: "200" });
    for (const [k, id] of [["q", "audit-q"], ["action", "audit-action"], ["model", "audit-model"], ["since", "audit-since"]]) {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    }
    // The controller audits each analysis of a live rollout (every 10 s by
    // default): left in, they fill the list and hide who changed what.
    // Asked for by action, they show.
    if (!$("audit-analyses").checked && !$("audit-action").value.trim().startsWith("rollout.analysis")) q.append("exclude_action", "rollout.analysis");
    const tb = clear($("audit-table").querySelector("tbody"));
    const note = $("audit-note");
    note.hidden = true;
    try {
      const a = await admin("GET", "/audit?" + q.toString());
      if (a.excluded) {
        note.textContent = a.excluded + " rollout.analysis " + (a.excluded === 1 ? "entry" : "entries") + " (the controller's analyses of live rollouts) left out: tick Show analyses to list them.";
        note.hidden = false;
      }
      for (const e of a.entries) {
        const detail = h("tr", { hidden: true }, h("td", { colspan: 7 }, h("div", { class: "cols" },
          h("div", {}, h("h3", {}, "Before"), h("pre", { class: "json" }, e.before ? JSON.stringify(e.before, null, 2) : "—")),
          h("div", {}, h("h3", {}, "After"), h("pre", { class: "json" }, e.after ? JSON.stringify(e.after, null, 2) : "—")))));
        tb.append(h("tr", {}, h("td", { class: "mono" }, utc(e.at)), h("td", {}, e.actor), h("td", {}, h("span", { class: "chip" }, e.action)), h("td", {}, e.model || ""), h("td", { class: "mono" }, e.subject || ""), h("td", {}, e.reason),
          h("td", {}, h("button", { class: "link", onclick: () => { detail.hidden = !detail.hidden; } }, "details"))), detail);
      }
      if (!a.entries.length) tb.append(h("tr", {}, h("td", { colspan: 7, class: "muted" }, "no matching entries")));
    } catch (e) {
      tb.append(h("tr", {}, h("td", { colspan: 7, class: "error" }, e.message)));
    }
  }

  async function askAt(ev) {
    ev.preventDefault();
    const box = clear($("at-result"));
    try {
      const a = await admin("GET", "/audit/at?model=" + enc($("at-model").value.trim()) + "&at=" + enc($("at-time").value.trim()));
      const counts = (a.requests || []).map((c) => c.version + ": " + c.count).join(", ") || "none logged";
      box.append(h("div", { class: "decision pass", id: "at-answer" },
        h("div", {}, "At ", h("b", {}, utc(a.at) + " UTC"), ", ", h("b", {}, a.model), " was served by ", h("b", {}, (a.serving || []).join(", ") || "no version"), " (policy ", h("code", {}, a.policy_text), ")."),
        h("div", { class: "small" }, "In force since " + utc(a.since) + " UTC, set by " + a.entry.actor + " (" + a.entry.action + "): " + a.entry.reason),
        h("div", { class: "small" }, "Labels: " + (Object.entries(a.labels || {}).map(([k, v]) => k + "→" + v).join(", ") || "none") + " · latest production: " + (a.latest || "none")),
        h("div", { class: "small" }, "Requests logged " + utc(a.window_start) + " – " + utc(a.window_end) + ": " + counts)));
    } catch (e) {
      box.append(h("p", { class: "error" }, e.message));
    }
  }

  // ---- keys ----
  // The Keys tab lists the data plane's client keys, the config file's and
  // those issued through the API (GET /admin/v1/keys, which never holds a
  // secret), each with what it used over the last 24 hours from the
  // request log (GET /admin/v1/usage?by=key), as sluice key list and
  // sluice usage do. It is read-only for every role: keys are issued and
  // revoked with the CLI, as tokens are.
  const KEY_COLS = 14;
  // keyRequestsLink puts under a key's name the link to its requests: the
  // Requests tab filtered on the key, over the last 24 hours the usage
  // counts, for the model shown (or the key's first, when it may not send
  // to that one). The tab lists one model's log, so with no model
  // registered there is nothing to link to.
  function keyRequestsLink(cell, key, models) {
    const model = models && models.length && !models.includes(state.model) ? models[0] : state.model;
    if (!model) return;
    const q = new URLSearchParams({ model: model, key: key, since: "24h" });
    cell.append(h("div", { class: "small" }, h("a", { href: "#requests?" + q.toString(), class: "key-requests-link", title: "the request log's attempts sent with " + key + " to " + model + " in the last 24 hours" }, "requests of " + model + " →")));
  }
  // realTime says whether s is a time the server set (a config key's
  // created_at is Go's zero time, year 1).
  const realTime = (s) => !!s && new Date(s).getUTCFullYear() > 1;
  const count = (x) => (x == null ? "–" : Number(x).toLocaleString("en-US"));

  async function loadKeys() {
    const tb = clear($("keys-table").querySelector("tbody"));
    const note = $("keys-note"), off = clear($("keys-off"));
    note.textContent = "";
    off.hidden = true;
    let list, usage = null, usageErr = "";
    try {
      // all=true: the keys revoked in the last 30 days too (the store's
      // tombstones), shown after the live ones.
      list = await admin("GET", "/keys?all=true");
    } catch (e) {
      tb.append(h("tr", {}, h("td", { colspan: KEY_COLS, class: "error", id: "keys-error" }, e.message)));
      return;
    }
    // The usage is a second read: when the request log cannot be summed,
    // the keys are still listed, and the note says why their numbers are not.
    try {
      usage = await admin("GET", "/usage?by=key&since=24h");
    } catch (e) {
      usageErr = e.message;
    }
    const used = new Map();
    for (const u of (usage && usage.rows) || []) used.set(u.key, u);
    const all = list.keys || [];
    const keys = all.filter((k) => !k.revoked);
    // The request log counts a key's use by its name: a name revoked and
    // issued again has one count, given to the live key. A revoked name
    // not issued again has its count on its latest revoked row.
    const live = new Set(keys.map((k) => k.name));
    const revoked = all.filter((k) => k.revoked).sort((a, b) => String(b.revoked_at || "").localeCompare(String(a.revoked_at || "")));
    const countedOn = new Map();
    for (const k of revoked) if (!live.has(k.name) && !countedOn.has(k.name)) countedOn.set(k.name, k);
    // On replicas sharing a store each enforces its share of a key's
    // limits (limit_share, that of the replica answering): a Share column
    // after Tokens/min, as sluice key list's SHARE after LIMITS.
    const shared = (Number(list.limit_replicas) || 0) > 1;
    const head = $("keys-table").querySelector("thead tr");
    for (const th of head.querySelectorAll(".key-share-col")) th.remove();
    if (shared) {
      head.children[5].after(h("th", { class: "n key-share-col", title: "the share of the key's request limit, burst and tokens per minute that the replica answering (" + (list.replica || "this one") + ") enforces: weighted by where the key's requests arrive, an even share for a key with none" }, "Share"));
    }
    const before = 9 + (shared ? 1 : 0); // the cells before the usage, less the name's
    if (!list.required) {
      off.append(h("div", { class: "decision paused", id: "keys-open" }, h("b", {}, "Keys are off: "),
        "this gateway's config has neither client_keys nor require_client_keys, so its data plane (/v1/) takes any caller, with or without a key. Set client_keys, or require_client_keys: true to rely on keys issued with sluice key create, in every replica's config and restart them."));
      off.hidden = false;
    }
    for (const k of keys.concat(revoked)) {
      const counted = !k.revoked || countedOn.get(k.name) === k;
      const u = counted ? used.get(k.name) : null;
      const cfg = k.source === "config";
      const rate = Number(k.rate_limit) || 0;
      const name = h("td", {}, h("b", {}, k.name));
      if (k.revoked) {
        name.append(" ", h("span", { class: "chip fail key-revoked", title: "refused with 401 revoked_key on every replica" },
          "revoked" + (realTime(k.revoked_at) ? " " + utc(k.revoked_at) : "")));
      }
      if (k.force_version) name.append(" ", h("span", { class: "chip", title: "may send the force-version header" }, "force-version"));
      keyRequestsLink(name, k.name, k.models);
      if (realTime(k.rotated_at)) {
        name.append(h("div", { class: "muted small key-rotated" }, "rotated " + utc(k.rotated_at) + (realTime(k.grace_until) ? "; the old secret works until " + utc(k.grace_until) : "")));
      }
      const expires = h("td", { class: "mono" }, realTime(k.expires_at) ? utc(k.expires_at) : "never");
      if (k.expired) expires.append(" ", h("span", { class: "chip fail key-expired" }, "expired"));
      let last;
      if (cfg) last = "-";
      else if (realTime(k.last_used_at)) last = utc(k.last_used_at);
      else if (u && u.requests > 0) last = "in the last 24 h";
      else last = "never"; // the API this page comes with notes an issued key's use
      tb.append(h("tr", { class: k.revoked || k.expired ? "muted" : "", dataset: { key: k.name, source: k.source, revoked: k.revoked ? "true" : "" } },
        name,
        h("td", {}, h("span", { class: "chip" }, k.source)),
        h("td", {}, (k.models || []).length ? k.models.join(", ") : h("span", { class: "muted" }, "all")),
        h("td", { class: "n" }, rate ? rate + "/s" : "none"),
        // Burst 0 is the rate rounded up, at least 1 (as the config says).
        h("td", { class: "n" }, k.burst ? String(k.burst) : rate ? String(Math.max(1, Math.ceil(rate))) : "–"),
        h("td", { class: "n" }, k.tokens_per_minute ? count(k.tokens_per_minute) : "none"),
        ...(shared ? [h("td", { class: "n key-share" }, keyShare(k))] : []),
        budgetCell(k),
        expires,
        h("td", { class: "mono" }, realTime(k.created_at) ? utc(k.created_at) + (k.created_by ? " by " + k.created_by : "") : "-"),
        h("td", { class: "mono" }, last),
        ...(counted ? usageCells(u, usage) : [h("td", { colspan: 4, class: "muted small key-counted-live" },
          live.has(k.name) ? "counted under the live key of this name" : "counted under its latest revoked row")])));
    }
    // Usage by a name no longer held (a key taken out of the config file,
    // or revoked more than 30 days ago) still happened: listed after the
    // keys.
    const held = new Set(all.map((k) => k.name));
    for (const u of (usage && usage.rows) || []) {
      if (!u.key || held.has(u.key)) continue;
      const gone = h("td", {}, h("b", {}, u.key));
      keyRequestsLink(gone, u.key, u.model ? [u.model] : []);
      tb.append(h("tr", { class: "muted", dataset: { key: u.key, source: "" } },
        gone, h("td", { colspan: before }, "no longer a key of this gateway (taken out of its config, or revoked over 30 days ago)"), ...usageCells(u, usage)));
    }
    const none = used.get("");
    if (none && none.requests > 0) {
      tb.append(h("tr", { class: "muted", dataset: { key: "", source: "" } },
        h("td", {}, h("i", {}, "no key")), h("td", { colspan: before }, "requests sent with an operator's or admin's token" + (list.required ? "" : ", or without a key")), ...usageCells(none, usage)));
    }
    if (!keys.length) {
      tb.append(h("tr", {}, h("td", { colspan: KEY_COLS + (shared ? 1 : 0), class: "muted", id: "no-keys" }, "No client keys yet. An admin issues one with ",
        h("code", {}, "sluice key create NAME --models chat --reason \"…\""), list.required ? "" : ", once the config requires keys", "; the config file's client_keys are listed here too.")));
    }
    const parts = [keys.length + " " + (keys.length === 1 ? "key" : "keys") + " (the config file's, then those issued through the API)" +
      (revoked.length ? ", then " + revoked.length + " revoked in the last 30 days" : "") + "."];
    if (shared) {
      parts.push(list.limit_replicas + " live replicas share these limits, each enforcing its share of them (Share, that of " + (list.replica || "the replica that answered") +
        "): an even 1/" + list.limit_replicas + " for a key with no recent requests, else weighted by where its requests arrive, so the fleet allows a key about the limits listed.");
    }
    parts.push(usageErr ? "The usage could not be read: " + usageErr + "." : "Requests, errors and tokens are over the last 24 hours, from the request log" + (usage && usage.since ? " (since " + utc(usage.since) + " UTC)" : "") +
      "; requests refused before routing (a 401, 403, 404, 429 over a key's limits or budget, or a body that is not JSON) are not in it: sluice_client_key_requests_total and sluice_client_key_refused_total on /metrics count them.");
    const estimated = ((usage && usage.rows) || []).reduce((n, u) => n + (Number(u.estimated_tokens) || 0), 0);
    if (!usageErr && estimated) {
      parts.push("~ marks tokens that hold the gateway's estimate, " + count(estimated) + " in all (under each key's output tokens): answers that ended without the backend's usage (a stream cut before its last chunk) are charged the request body's and the relayed text's bytes / 4, as sluice usage's ESTIMATED TOKENS says.");
    }
    note.textContent = parts.join(" ");
  }

  // keyShare is a key's Share cell, as sluice key list's SHARE column: the
  // answering replica's share of its limits in percent ("<1%" for one that
  // rounds to none), "-" for a key without a limit.
  function keyShare(k) {
    const v = Number(k.limit_share) || 0;
    if (v <= 0) return "-";
    if (v < 0.005) return "<1%";
    // A half to even, as the CLI's strconv.FormatFloat: Math.round takes
    // it up, and an even 1/8 read 13% here and 12% in sluice key list.
    const x = 100 * v;
    let r = Math.round(x);
    if (r - x === 0.5 && r % 2 === 1) r--;
    return r + "%";
  }

  // budgetCell is a key's Budget cell, as sluice key list's BUDGET column:
  // what it used of its token budget in the current period, as the
  // replica that answered last summed it (budget_used; "?" before its
  // first sum of the period), against the budget, such as
  // "12.3M / 50M month", when the period resets, and a spent mark once the
  // use reached the budget (its requests then get 429 insufficient_quota).
  // Empty for a key without a budget; a revoked key's budget alone.
  function budgetCell(k) {
    const td = h("td", { class: "key-budget" });
    const budget = Number(k.token_budget) || 0;
    if (budget <= 0) return td;
    if (k.revoked) {
      td.append(h("span", { class: "muted mono" }, fmtTokens(budget) + " " + k.budget_period));
      return td;
    }
    const used = k.budget_used == null ? null : Number(k.budget_used);
    td.append(h("span", { class: "mono key-budget-used", title: used == null ? "not summed yet by this replica in this period" : count(used) + " of " + count(budget) + " tokens (prompt and answer)" },
      (used == null ? "?" : fmtTokens(used)) + " / " + fmtTokens(budget) + " " + k.budget_period));
    if (used != null && used >= budget) {
      td.append(" ", h("span", { class: "chip fail key-budget-spent", title: "its inference requests get 429 insufficient_quota until the period resets" }, "spent"));
    }
    if (realTime(k.budget_resets_at)) td.append(h("div", { class: "muted small key-budget-resets" }, "resets " + utc(k.budget_resets_at) + " UTC"));
    return td;
  }

  // fmtTokens writes a count of tokens short, as sluice.FormatTokens
  // does (the CLI's): 999, 9999, 12.3k, 50M, 1.5G.
  function fmtTokens(n) {
    n = Number(n);
    if (Math.abs(n) < 10000) return String(Math.trunc(n));
    const units = [[1e3, "k"], [1e6, "M"], [1e9, "G"]];
    for (let i = 0; ; i++) {
      const v = Math.round((n / units[i][0]) * 10) / 10;
      if (Math.abs(v) < 1000 || i === units.length - 1) return v.toFixed(1).replace(/\.0$/, "") + units[i][1];
    }
  }

  // usageCells are a key's four usage cells. Tokens that hold the
  // gateway's estimate (answers that ended without the backend's usage,
  // estimated_tokens, input and output together) are marked ~, as sluice
  // requests marks such rows, with how many under the output's.
  function usageCells(u, usage) {
    const v = (f) => (!usage ? "–" : count(u ? u[f] : 0));
    const est = usage && u ? Number(u.estimated_tokens) || 0 : 0;
    const title = est ? count(est) + " of this key's input and output tokens are the gateway's estimate (the request body's and the relayed text's bytes / 4) for answers that ended without the backend's usage" : null;
    const tok = (f, cls) => {
      const td = h("td", { class: "n " + cls }, (est ? "~" : "") + v(f));
      if (title) td.title = title;
      return td;
    };
    const out = tok("output_tokens", "key-output");
    if (est) out.append(h("div", { class: "muted small key-estimated", title: title }, "~" + count(est) + " estimated"));
    return [h("td", { class: "n key-requests" }, v("requests")), h("td", { class: "n key-errors" }, v("errors")), tok("input_tokens", "key-input"), out];
  }

  // ---- replicas ----
  // The Replicas box (GET /admin/v1/replicas, as sluice replicas): on a
  // fleet the live replicas, each one's release, leader, routing revision,
  // requests in flight, draining, with a warning line when they run more
  // than one release, and a stale replica's row (its beats stopped) marked
  // with a warning line of its own; on a lone gateway one line. Read again every
  // REPLICAS_MS while the Overview is shown.
  // Two reads may overlap (the timer and a return to the Overview, a
  // slow store): only the latest one started fills the box, once it
  // answered, so rows are never shown twice nor an older answer last.
  const REPLICAS_MS = 5000;
  let replicasRead = 0;
  async function loadReplicas() {
    if (document.hidden || route().tab !== "overview") return;
    const read = ++replicasRead;
    let l, failed;
    try {
      l = await admin("GET", "/replicas");
    } catch (e) {
      failed = e;
    }
    if (read !== replicasRead) return;
    const card = $("replicas-card"), sub = $("replicas-sub"), warns = clear($("replicas-warnings"));
    const table = $("replicas-table"), tb = clear(table.querySelector("tbody"));
    if (failed) {
      const e = failed;
      card.hidden = false;
      table.hidden = true;
      sub.textContent = "";
      warns.append(h("p", { class: "muted small", id: "replicas-error" }, "Cannot read the replicas: " + e.message));
      return;
    }
    card.hidden = false;
    if (!l.fleet) {
      const r = l.replicas[0] || {};
      table.hidden = true;
      sub.textContent = "";
      warns.append(h("p", { class: "small", id: "replicas-line" }, "A lone gateway, the only replica: release " + r.release + ", routing revision " + r.revision +
        ", " + r.in_flight + " requests in flight (a fleet of replicas shares a PostgreSQL store)."));
      return;
    }
    const stale = l.replicas.filter((r) => r.stale).length;
    sub.textContent = (l.replicas.length - stale) + " live (a beat in the last " + l.live_window_seconds + " s)" + (stale ? ", " + stale + " stale" : "") + ", newest routing revision " + l.newest_revision;
    for (const w of l.warnings || []) warns.append(h("p", { class: "replicas-warn" }, w));
    table.hidden = false;
    for (const r of l.replicas) {
      tb.append(h("tr", { class: (r.behind ? "behind " : "") + (r.draining ? "draining " : "") + (r.stale ? "stale" : ""), dataset: { name: r.name } },
        h("td", { class: "mono" }, r.name, r.self ? h("span", { class: "muted small" }, " (this page's)") : null),
        h("td", { class: "mono" }, r.release),
        h("td", {}, r.leader == null ? h("span", { class: "muted", title: "its binary predates this field" }, "?") : r.leader ? h("span", { class: "chip production" }, "leader") : ""),
        h("td", { class: "n rev" }, r.revision + (r.behind ? " (behind)" : "")),
        h("td", { class: "n" }, r.in_flight),
        h("td", { class: "drain" }, r.draining ? "draining" : "no"),
        h("td", { class: "n beat" }, r.beat_age_seconds.toFixed(1) + " s ago" + (r.stale ? " (stale)" : ""))));
    }
  }

  // ---- requests ----
  // The Requests tab reads the request log through the admin API (GET
  // /admin/v1/requests, a viewer's read, as sluice requests is): the
  // selected model's attempts, newest first, filtered as the form says, a
  // page at a time (Older: see loadRequests). A row, a pasted #requests/REQ_ID or the id box opens
  // the request: each attempt's every field, in the order sent. The
  // filters live in the address (#requests?version=…&failed=true), so the
  // live card's link to the candidate's failures, and a filtered list,
  // can be shared. Every string from the log is set as text.
  const REQUESTS_PAGE = 50;
  const REQUEST_FILTERS = [["version", "requests-version"], ["category", "requests-category"], ["route", "requests-route"], ["key", "requests-key"], ["since", "requests-since"], ["until", "requests-until"]];
  // failedClass mirrors sluice.Observation.Failed: what the error rate counts.
  const failedClass = (c) => !!c && c !== "canceled" && c !== "drain_cut" && c !== "bad_request";
  const nsText = (ns) => { const ms = (ns || 0) / 1e6; return (ms < 10 ? ms.toFixed(1) : String(Math.round(ms))) + " ms"; };
  const sentText = (s) => String(s).replace("T", " ").replace(/(\.\d{3})\d*/, "$1").replace("Z", "");
  // nanoAfter is the instant 1 ns after t (an RFC 3339 time the API sent),
  // in UTC: an exclusive until= of it is "up to and including t". Done on
  // the text, as a Date keeps milliseconds only.
  function nanoAfter(t) {
    const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
    if (!m) return t;
    let sec = Date.parse(m[1] + m[3]) / 1000, ns = Number((m[2] || "").padEnd(9, "0")) + 1;
    if (ns === 1e9) { sec++; ns = 0; }
    return new Date(sec * 1000).toISOString().slice(0, 19) + "." + String(ns).padStart(9, "0") + "Z";
  }
  // rowKey tells the rows sent at one instant apart.
  const rowKey = (o) => [o.request_id, o.at, o.version, o.endpoint, o.status, o.error_class, o.replica].join("\u0000");
  const REQUESTS_MAX_LIMIT = 10000; // api.MaxLimit
  function requestStatus(o) {
    let t = String(o.status) + (o.error_class ? " " + o.error_class : "");
    if (o.retried) t += " (retried)";
    else if (o.retry_budget_spent) t += " (retry budget spent)";
    return t;
  }

  // markFilters marks the filters the gateway's error names (a route it
  // never logs, a category no request has) on the form itself, with the
  // error as their title, and clears the others' marks.
  function markFilters(fields, message) {
    for (const [k, id] of REQUEST_FILTERS.concat([["failed", "requests-failed"]])) {
      const el = $(id), bad = fields.includes(k);
      el.classList.toggle("invalid", bad);
      if (bad) { el.setAttribute("aria-invalid", "true"); el.title = message; }
      else { el.removeAttribute("aria-invalid"); el.removeAttribute("title"); }
    }
  }

  // requestsQuery is the filters the form holds, with the model.
  function requestsQuery() {
    const q = new URLSearchParams({ model: state.model });
    for (const [k, id] of REQUEST_FILTERS) {
      const v = $(id).value.trim();
      if (v) q.set(k, v);
    }
    if ($("requests-failed").checked) q.set("failed", "true");
    return q;
  }

  // goRequests puts the form's filters (and the request id open, if any)
  // in the address, which shows them.
  function goRequests(id) {
    const want = "#requests" + (id ? "/" + enc(id) : "") + "?" + requestsQuery().toString();
    if (location.hash === want) showRequests(route(), true);
    else location.hash = want;
  }

  // showRequests shows the tab as the address says: the list filtered by
  // its query (read again only when the filters changed, or again is
  // set), and the request its id names.
  async function showRequests(rt, again) {
    const q = new URLSearchParams(rt.query);
    const m = q.get("model");
    if (m && m !== state.model && state.models.some((x) => x.name === m)) {
      await selectModel(m, true); // it shows the tab again, on that model
      return;
    }
    const sel = $("requests-version"), model = state.models.find((x) => x.name === state.model);
    clear(sel).append(h("option", { value: "" }, "all"));
    for (const v of (model ? model.versions : [])) sel.append(h("option", { value: v.version }, v.version));
    const version = q.get("version") || "";
    if (version && ![...sel.options].some((o) => o.value === version)) sel.append(h("option", { value: version }, version));
    sel.value = version;
    // A route the list lacks (a typo in a pasted address) is kept, as a
    // version is, so that the gateway's answer says what is wrong with it
    // rather than the list quietly showing every route.
    const routeSel = $("requests-route"), routeQ = q.get("route") || "";
    if (routeQ && ![...routeSel.options].some((o) => o.value === routeQ)) routeSel.append(h("option", { value: routeQ, class: "typed" }, routeQ));
    for (const [k, id] of REQUEST_FILTERS) if (k !== "version") $(id).value = q.get(k) || "";
    $("requests-failed").checked = q.get("failed") === "true";
    $("request-id").value = rt.id || "";
    if (rt.id) openRequest(rt.id);
    else { $("request-detail").hidden = true; state.requestGen = (state.requestGen || 0) + 1; }
    const key = state.model + "?" + requestsQuery().toString();
    if (again || !state.requests || state.requests.key !== key) loadRequests(false, key);
  }

  // loadRequests lists the first page of the filters set (more: the next
  // page, under those shown).
  async function loadRequests(more, key) {
    const tb = $("requests-table").querySelector("tbody"), note = $("requests-note"), older = $("requests-older");
    let st = state.requests;
    if (!more) {
      st = state.requests = { gen: (st ? st.gen : 0) + 1, key: key, model: state.model, q: requestsQuery(), shown: 0, oldest: "", tied: new Set() };
      clear(tb);
      note.textContent = "";
      older.hidden = true;
      markFilters([], "");
    }
    if (!st) return;
    if (!st.model) {
      tb.append(h("tr", {}, h("td", { colspan: 10, class: "muted", id: "no-requests" }, "No model is registered yet: register one with sluice apply -f models.yaml, and its requests are listed here.")));
      return;
    }
    const gen = st.gen, q = new URLSearchParams(st.q);
    // The next page is read up to and including the oldest time shown,
    // and the rows shown at that time (st.tied) are left out of it: an
    // exclusive until= of that time skipped the rows sent at the same
    // instant as the oldest shown (a burst logged in one microsecond
    // on PostgreSQL, or rows copied with one time), which an SRE paging
    // through an incident must see. The stores order rows of one time
    // the same way at each read, so the page asks for as many more rows
    // as it will leave out.
    q.set("limit", String(more ? Math.min(REQUESTS_PAGE + st.tied.size, REQUESTS_MAX_LIMIT) : REQUESTS_PAGE));
    if (more) q.set("until", nanoAfter(st.oldest));
    older.disabled = true;
    let a;
    try {
      a = await admin("GET", "/requests?" + q.toString());
    } catch (e) {
      if (gen === state.requests.gen) {
        note.textContent = "";
        tb.append(h("tr", {}, h("td", { colspan: 10, class: "error", id: "requests-error" }, e.message)));
        markFilters(e.fields || [], e.message);
      }
      return;
    } finally {
      older.disabled = false;
    }
    if (gen !== state.requests.gen) return;
    const rows = (a.requests || []).filter((o) => !(more && o.at === st.oldest && st.tied.has(rowKey(o))));
    const link = "?" + st.q.toString();
    for (const o of rows) {
      const failed = failedClass(o.error_class);
      const href = "#requests/" + enc(o.request_id) + link;
      tb.append(h("tr", { class: "clickable" + (failed ? " failed" : ""), dataset: { id: o.request_id, version: o.version }, title: failed ? "failed: " + o.error_class : null, onclick: (ev) => { if (ev.target.tagName !== "A") location.hash = href; } },
        h("td", { class: "mono" }, sentText(o.at)),
        h("td", { class: "mono" }, h("a", { href: href }, o.request_id)),
        h("td", {}, o.version),
        h("td", {}, o.route),
        h("td", { class: "status" }, requestStatus(o)),
        h("td", { class: "n" }, nsText(o.latency_ns)),
        h("td", { class: "n" }, o.stream ? nsText(o.ttft_ns) : "–"),
        h("td", { class: "n", title: o.tokens_estimated ? "the gateway's estimate: the answer ended without the backend's usage" : null }, (o.tokens_estimated ? "~" : "") + o.input_tokens + " / " + o.output_tokens),
        h("td", {}, o.client_key || "–"),
        h("td", {}, o.category || "–")));
    }
    st.shown += rows.length;
    if (rows.length) {
      const last = rows[rows.length - 1].at;
      if (last !== st.oldest) st.tied = new Set();
      st.oldest = last;
      for (const o of rows) if (o.at === last) st.tied.add(rowKey(o));
    }
    older.hidden = !a.truncated;
    const filtered = [...st.q.keys()].some((k) => k !== "model");
    if (!st.shown) {
      tb.append(h("tr", {}, h("td", { colspan: 10, class: "muted", id: "no-requests" }, "No request of " + st.model + (filtered ? " matches these filters" : " is logged yet") + ": widen Since/Until, or wait a moment (the request log is written in batches, request_log.flush_interval).")));
      return;
    }
    note.textContent = "A row per attempt (a retried request has one for its failed attempt and one for its retry), newest first: " +
      (a.truncated ? "the newest " + st.shown + (filtered ? " that match" : "") + "; Older shows the " + REQUESTS_PAGE + " before." : st.shown + (filtered ? " that match" : "") + ", down to the oldest in the log.") +
      " Times are UTC; click a row for the request's every attempt.";
  }

  // The fields of a request log row, as the detail lists them
  // (sluice.Observation); any other a newer gateway sends follows them.
  const REQUEST_FIELDS = [["at", "Sent (UTC)"], ["model", "Model"], ["version", "Version"], ["route", "Route"], ["endpoint", "Endpoint"], ["status", "Status"], ["error_class", "Error class"],
    ["retried", "Retried"], ["finish_reason", "Finish reason"], ["latency_ns", "Latency"], ["ttft_ns", "TTFT"], ["stream", "Stream"], ["stream_whole", "Stream answered whole"],
    ["input_tokens", "Input tokens"], ["output_tokens", "Output tokens"], ["tokens_estimated", "Tokens estimated"], ["cached_tokens", "Cached tokens"], ["cache_reported", "Cache reported"],
    ["response_chars", "Response chars"], ["refusal", "Refusal"], ["tools_offered", "Tools offered"], ["tool_call", "Tool call"], ["category", "Category"], ["client_key", "Client key"],
    ["replica", "Replica"], ["sticky_hash", "Sticky key"], ["split_conversation", "Split conversation"]];
  const BOOL_FIELDS = ["retried", "stream", "stream_whole", "tokens_estimated", "cache_reported", "refusal", "tools_offered", "tool_call", "split_conversation"];
  function fieldText(k, v) {
    if (BOOL_FIELDS.includes(k)) return v ? "yes" : "no";
    if (k === "latency_ns" || k === "ttft_ns") return nsText(v);
    if (k === "at") return sentText(v);
    if (k === "sticky_hash") return v ? "yes (its hash is kept, never the key)" : "none";
    return v == null || v === "" ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v);
  }

  // openRequest shows request id's attempts above the list, in the order
  // they were sent, as sluice requests --id prints them.
  async function openRequest(id) {
    const box = $("request-detail");
    const gen = state.requestGen = (state.requestGen || 0) + 1;
    box.hidden = false;
    clear(box).append(h("p", { class: "muted" }, "Reading " + id + "…"));
    let a;
    try {
      a = await admin("GET", "/requests?" + new URLSearchParams({ request_id: id, limit: "100" }).toString());
    } catch (e) {
      if (gen === state.requestGen) clear(box).append(h("p", { class: "error" }, e.message));
      return;
    }
    if (gen !== state.requestGen) return;
    const rows = (a.requests || []).slice().reverse();
    const link = location.origin + location.pathname + "#requests/" + enc(id);
    clear(box).append(h("div", { class: "card-head" },
      h("h3", {}, "Request ", h("span", { class: "mono", id: "request-detail-id" }, id)),
      h("span", { class: "actions" }, h("a", { href: link, id: "request-link", title: "a link to this request, to paste where it is discussed" }, "link"),
        h("button", { class: "link", id: "request-close", onclick: () => { location.hash = "#requests" + (route().query ? "?" + route().query : ""); } }, "Close"))));
    if (!rows.length) {
      box.append(h("p", { class: "muted", id: "request-none" }, "No request with id " + id + " is in the request log: it is written in batches (request_log.flush_interval), so try again in a moment, and check the id is the X-Request-Id the gateway sent."));
      return;
    }
    box.append(h("p", { class: "muted small", id: "request-attempts-note" }, rows.length > 1
      ? rows.length + " attempts, in the order they were sent: an attempt that failed, then the request sent again (to stable, or another endpoint of the version). sluice requests --id " + id + " lists the same."
      : "One attempt. sluice requests --id " + id + " lists the same."));
    const wrap = h("div", { class: "attempts" });
    rows.forEach((o, i) => {
      const known = REQUEST_FIELDS.map(([k]) => k).concat(["request_id"]);
      const fields = REQUEST_FIELDS.concat(Object.keys(o).filter((k) => !known.includes(k)).map((k) => [k, k]));
      const tb = h("tbody", {});
      for (const [k, label] of fields) tb.append(h("tr", { dataset: { field: k } }, h("th", {}, label), h("td", { class: "mono" }, fieldText(k, o[k]))));
      wrap.append(h("div", { class: "attempt" + (failedClass(o.error_class) ? " failed" : "") },
        h("h3", {}, "Attempt " + (i + 1) + (failedClass(o.error_class) ? ": failed" : o.error_class ? ": " + o.error_class : "")),
        h("table", { class: "grid" }, tb)));
    });
    box.append(wrap);
  }


  // ---- navigation ----
  // route reads the page's address: "#history/chat/ID" is the History
  // tab with model chat's rollout ID open (each part URI-encoded).
  // "#requests/REQ_ID?version=v2&failed=true" is the Requests tab with
  // that request open and the list filtered (model= names the model).
  function route() {
    const raw = (location.hash || "#overview").slice(1), qi = raw.indexOf("?");
    const parts = (qi < 0 ? raw : raw.slice(0, qi)).split("/"), query = qi < 0 ? "" : raw.slice(qi + 1);
    const dec = (x) => { try { return decodeURIComponent(x); } catch (e) { return x; } };
    if (parts[0] === "requests") return { tab: "requests", model: new URLSearchParams(query).get("model") || "", id: parts.length > 1 ? dec(parts.slice(1).join("/")) : "", query: query };
    return { tab: parts[0] || "overview", model: parts.length > 2 ? dec(parts[1]) : "", id: parts.length > 2 ? dec(parts.slice(2).join("/")) : "", query: query };
  }

  function showTab() {
    const rt = route(), tab = rt.tab;
    document.querySelectorAll(".tab").forEach((a) => a.classList.toggle("active", a.dataset.tab === tab));
    document.querySelectorAll(".tab-body").forEach((s) => { s.hidden = s.id !== "tab-" + tab; });
    if (tab === "shadow") loadShadow();
    if (tab === "audit") loadAudit();
    if (tab === "keys") loadKeys();
    if (tab === "requests") showRequests(rt);
    // #history/MODEL/ID opens that rollout (a row's click, a pasted link,
    // the tab's own link back to the card open); #history is the list:
    // as it was when a card closes (Back, the browser's back), else read
    // again each time the tab opens.
    if (tab === "history" && rt.id) openLinked(rt);
    else if (tab === "history" && !$("history-past").hidden) {
      closePast();
      if (!state.history || state.history.stale) loadHistory(false, !!state.history);
    } else if (tab === "history") loadHistory(false);
    if (tab === "overview") { renderCharts(); loadReplicas(); }
  }

  // waitForModels shows that no model is registered yet and looks again
  // every few seconds (there is no model to stream events for), opening the
  // first one registered.
  function waitForModels() {
    // Nothing to stream: the indicator says so, rather than
    // "connecting…" for ever.
    const live = $("live");
    live.className = "live off";
    live.textContent = "○ no model yet";
    live.title = "no model is registered, so there is nothing to stream; the page looks for one every 3 s";
    const body = clear($("rollout-body"));
    body.append(h("p", { class: "muted", id: "no-models" }, "No models are registered yet: register one with sluice apply -f models.yaml; this page picks it up by itself."));
    setTimeout(async () => {
      try {
        await loadModels();
      } catch (e) { /* the gateway is restarting: try again */ }
      if (state.model) {
        const name = state.model;
        state.model = "";
        await selectModel(name);
      } else {
        waitForModels();
      }
    }, 3000);
  }

  // selectModel shows model name; linked, it was picked by the address
  // (#history/MODEL/ID), which stays, while a pick by hand leaves a card
  // of the model before.
  async function selectModel(name, linked) {
    if (!name || name === state.model && state.es) return;
    state.model = name;
    sessionStorage.setItem("sluice-model", name);
    state.series = {};
    state.shownVerdict = null;
    state.category = "";
    state.categories = null; // setCategories redraws the drop-down for this model
    // A reason is written for one model's rollout or split: left in the
    // box, it went with an action on the next model picked.
    $("rollout-reason").value = "";
    $("split-reason").value = "";
    $("at-model").value = name;
    // The History tab shows the model picked: another's list or card goes.
    // The Requests tab's filters (a version) are the model's before: it
    // lists the new one's requests unfiltered.
    if (!linked && (route().id || route().tab === "requests" && route().query)) history.replaceState(null, "", "#" + route().tab);
    closePast();
    state.history = null;
    if (route().tab === "history") loadHistory(false);
    renderModels();
    renderSplitEditor();
    await loadVerdicts();
    await loadRollout();
    await loadSeries();
    connect();
    loadCategories();
    if (route().tab === "shadow") loadShadow();
    if (route().tab === "requests") showRequests(route());
  }

  async function refreshAll() {
    await loadModels();
    await loadVerdicts();
    await loadRollout();
    await loadCategories();
  }

  // ---- the token's expiry ----
  // The header gives the signed-in token's expiry and counts down to it,
  // from how far off the gateway said it was (its clock decides, not the
  // browser's). The session is asked for every TOKEN_RECHECK_MS, so a
  // token renewed (a config file's token given a later expires and
  // reloaded) shows its new expiry, and one that ran out says so and goes
  // to the sign-in page with the gateway's reason, all without a reload.
  const TOKEN_RECHECK_MS = 15000;
  const expiry = { at: "", deadline: 0, ended: false };
  const expiryText = (iso) => new Date(String(iso).replace(/(\.\d{3})\d+/, "$1")).toISOString().slice(0, 19).replace("T", " ") + " UTC";
  // leftText writes a time left as a countdown: 2d 3h, 1h 05m, 4m 09s.
  function leftText(ms) {
    const s = Math.max(0, Math.floor(ms / 1000)), m = Math.floor(s / 60), hr = Math.floor(m / 60), d = Math.floor(hr / 24);
    if (d > 0) return d + "d " + (hr % 24) + "h";
    if (hr > 0) return hr + "h " + String(m % 60).padStart(2, "0") + "m";
    return m + "m " + String(s % 60).padStart(2, "0") + "s";
  }
  function expirySpans() {
    let el = $("token-expires");
    if (!el) {
      el = h("span", { id: "token-expires", class: "small muted", title: "the token this session signed in with stops working then, and the session with it: ask an admin for a new one (sluice token create)" });
      document.querySelector(".who").append(" ", el);
    }
    let left = $("token-left");
    if (!left) {
      left = h("span", { id: "token-left", class: "small muted" });
      el.after(" ", left);
    }
    return [el, left];
  }
  function setExpiry(at, inMs) {
    expiry.at = at || "";
    expiry.deadline = at ? Date.now() + inMs : 0;
    expiry.ended = false;
    if (!at) {
      for (const id of ["token-expires", "token-left"]) { const e = $(id); if (e) e.remove(); }
      return;
    }
    expirySpans()[0].textContent = "token expires " + expiryText(at);
    showLeft();
  }
  function showLeft() {
    if (!expiry.at || expiry.ended) return;
    const [el, left] = expirySpans();
    const ms = expiry.deadline - Date.now();
    if (ms > 0) {
      el.className = left.className = "small " + (ms < 86400e3 ? "soon" : "muted");
      left.textContent = "(in " + leftText(ms) + ")";
      return;
    }
    // Run out: say so at once, then ask the gateway, which sends the page
    // to sign-in with its reason (or, renewed meanwhile, the new expiry).
    expiry.ended = true;
    el.className = left.className = "small soon expired";
    el.textContent = "token expired at " + expiryText(expiry.at);
    left.textContent = "(this session has ended)";
    flash("Your token " + (meta("sluice-name") || "") + " expired at " + expiryText(expiry.at) + ": this session has ended. Sign in with a new token (an admin makes one with sluice token create).", true);
    checkSession();
  }
  async function checkSession() {
    let info;
    try {
      info = await call("GET", "/ui/api/session");
    } catch (e) {
      return; // unreachable: asked again at the next check
    }
    const at = info.expires_at || "", was = expiry.at;
    if (at === was) {
      if (at) { expiry.deadline = Date.now() + info.expires_in_ms; expiry.ended = false; } // keep to the gateway's clock
      return;
    }
    setExpiry(at, info.expires_in_ms);
    if (!at) flash("Your token was renewed: it no longer expires.");
    else if (!was) flash("Your token now expires " + expiryText(at) + ".", true);
    else if (new Date(at) > new Date(was)) flash("Your token was renewed: it now expires " + expiryText(at) + ".");
    else flash("Your token's expiry was brought forward: it now expires " + expiryText(at) + ".", true);
  }
  function watchExpiry() {
    const el = $("token-expires");
    // The page was rendered a moment ago: performance.now() is the time
    // since it was asked for.
    if (el && el.dataset.expiresAt) setExpiry(el.dataset.expiresAt, Number(el.dataset.expiresInMs) - performance.now());
    setInterval(showLeft, 1000);
    setInterval(checkSession, TOKEN_RECHECK_MS);
    setInterval(loadReplicas, REPLICAS_MS);
  }

  document.addEventListener("DOMContentLoaded", async () => {
    window.addEventListener("hashchange", showTab);
    $("model-select").addEventListener("change", (e) => selectModel(e.target.value));
    $("category-select").addEventListener("change", async (e) => { state.category = e.target.value; await loadSeries(); connect(); });
    document.querySelectorAll("#rollout-actions button").forEach((b) => b.addEventListener("click", () => act(b.dataset.action, b.dataset.pick)));
    $("split-form").addEventListener("submit", setSplit);
    $("audit-form").addEventListener("submit", loadAudit);
    $("audit-analyses").addEventListener("change", loadAudit);
    $("at-form").addEventListener("submit", askAt);
    $("shadow-refresh").addEventListener("click", loadShadow);
    $("shadow-older").addEventListener("click", loadShadowOlder);
    $("shadow-differ").addEventListener("change", loadShadow);
    $("shadow-category").addEventListener("change", loadShadow);
    $("keys-refresh").addEventListener("click", loadKeys);
    $("requests-form").addEventListener("submit", (ev) => { ev.preventDefault(); goRequests(route().id); });
    $("request-find").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("request-id").value.trim();
      if (id) goRequests(id);
    });
    $("requests-older").addEventListener("click", () => loadRequests(true));
    $("history-refresh").addEventListener("click", () => {
      if (route().id) history.replaceState(null, "", "#history");
      closePast();
      loadHistory(false);
    });
    $("history-older").addEventListener("click", () => loadHistory(true));
    // Back is the address of the list, so the browser's back does the same.
    $("history-back").addEventListener("click", () => { location.hash = "#history"; });
    $("logout").addEventListener("click", async () => { try { await call("POST", "/ui/logout"); } finally { location.replace("/ui/"); } });
    $("at-time").value = new Date().toISOString().slice(0, 19);
    watchExpiry();
    window.addEventListener("resize", () => renderCharts());
    try {
      await loadModels();
      // A link to a rollout (#history/MODEL/ID) opens on its model.
      const linked = route().model;
      const name = state.models.some((m) => m.name === linked) ? linked : state.model;
      state.model = "";
      if (name) await selectModel(name, true); // the address stays: there is no model before
      else waitForModels();
    } catch (e) {
      flash(e.message, true);
    }
    showTab();
    document.body.dataset.ready = "1";
  });
})();
