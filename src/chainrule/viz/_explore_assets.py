"""The explorer page's style and script (written for chainrule, MIT like the package), inlined by explore.py.

They live in Python strings so that they ship with the package as code, with no package-data
configuration. The script reads the page's JSON (nodes in forward order, backward steps in
order, see explore._page_data) and draws an SVG; it loads nothing and contacts no server.
"""

CSS = r"""
:root{--leaf:#bfdbfe;--param:#fde68a;--op:#f3f4f6;--out:#bbf7d0;--hot:#f97316;--ink:#111827;--mute:#6b7280}
*{box-sizing:border-box}
body{margin:0;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
 display:flex;flex-direction:column;height:100vh;background:#fff}
header{padding:8px 12px;border-bottom:1px solid #e5e7eb}
h1{font-size:16px;margin:0 0 6px}
nav{display:flex;flex-wrap:wrap;gap:6px;align-items:center}
button{font:inherit;padding:3px 10px;border:1px solid #d1d5db;border-radius:6px;background:#f9fafb;cursor:pointer}
button:focus-visible,#canvas:focus-visible{outline:2px solid #2563eb;outline-offset:1px}
#status{margin-top:6px;font-family:ui-monospace,Menlo,monospace;min-height:2.8em;white-space:pre-wrap}
main{flex:1;display:flex;min-height:0}
#canvas{flex:1;min-width:0;overflow:hidden;position:relative}
svg{width:100%;height:100%;cursor:grab;user-select:none}
aside{width:340px;max-width:40vw;overflow:auto;border-left:1px solid #e5e7eb;padding:8px 12px;font-size:13px}
@media (max-width:700px){main{flex-direction:column}aside{width:auto;max-width:none;height:38vh;border-left:0;
 border-top:1px solid #e5e7eb}}
.hint{color:var(--mute)}
.node rect{stroke:#9ca3af;stroke-width:1;rx:6}
.node.input rect{fill:var(--leaf)}.node.parameter rect{fill:var(--param);stroke-width:2}
.node.op rect{fill:var(--op)}.node.output rect{fill:var(--out);stroke-width:2}
.node.pending rect{fill:#fff;stroke-dasharray:4 3}
.node.current rect{stroke:var(--hot);stroke-width:3}.node.selected rect{stroke:#2563eb;stroke-width:3}
.node text{font:12px ui-monospace,Menlo,monospace;fill:var(--ink)}
.node text.name{font-weight:600}.node text.grad{fill:#b91c1c}
.edge path{fill:none;stroke:#9ca3af;stroke-width:1.3;marker-end:url(#arrow)}
.edge.done path{stroke:#b91c1c}.edge.current path{stroke:var(--hot);stroke-width:3}
.edge text{font:11px ui-monospace,Menlo,monospace;fill:#b91c1c;paint-order:stroke;stroke:#fff;stroke-width:3}
.edge.current text{fill:#c2410c;font-weight:700}
.cluster rect{fill:#eef2ff;stroke:#818cf8;stroke-dasharray:5 3;rx:10}
.cluster text{font:12px system-ui,sans-serif;fill:#3730a3;cursor:pointer}
.cluster.collapsed rect{fill:#e0e7ff;stroke-dasharray:none}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 10px;margin:6px 0}
dt{color:var(--mute)}dd{margin:0;font-family:ui-monospace,Menlo,monospace;word-break:break-word}
pre{font-size:11px;max-height:220px;overflow:auto;background:#f9fafb;padding:6px}
canvas.heat{image-rendering:pixelated;border:1px solid #e5e7eb;width:168px;height:auto}
#trace-panel{max-height:40vh;overflow:auto;border-top:1px solid #e5e7eb;padding:0 12px}
"""

JS = r"""
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("data").textContent);
  var N = D.nodes.length, M = D.steps.length, T = N + 1 + M;
  var DX = 214, DY = 70, W = 144, H = 54, PAD = 30;
  var svg = document.getElementById("graph"), NS = "http://www.w3.org/2000/svg";
  var statusEl = document.getElementById("status"), details = document.getElementById("details");
  var step = 0, timer = null, selected = null, collapsed = {}, view = null;
  var stepsOf = D.nodes.map(function () { return []; });
  D.steps.forEach(function (s, k) { stepsOf[s.src].push(k); });
  var clusters = {};
  D.nodes.forEach(function (n) { if (n.module) (clusters[n.module] = clusters[n.module] || []).push(n.id); });
  Object.keys(clusters).forEach(function (c) { collapsed[c] = D.collapse; });

  function el(tag, attrs, parent) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }
  function px(n) { return PAD + n.x * DX; }
  function py(n) { return PAD + n.y * DY; }
  function esc(s) { return String(s).replace(/[&<>"]/g, function (c) {
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}[c]; }); }
  function shape(n) { return n.shape.length ? "(" + n.shape.join(", ") + ")" : "scalar"; }

  // ----- drawing -----
  var nodeEls = [], edgeEls = [], boxes = {};
  function clusterBox(c) {
    var xs = clusters[c].map(function (i) { return px(D.nodes[i]); });
    var ys = clusters[c].map(function (i) { return py(D.nodes[i]); });
    return {x: Math.min.apply(null, xs) - 12, y: Math.min.apply(null, ys) - 24,
            w: Math.max.apply(null, xs) - Math.min.apply(null, xs) + W + 24,
            h: Math.max.apply(null, ys) - Math.min.apply(null, ys) + H + 36};
  }
  function anchor(i) {  // where edges of node i attach: the node, or its collapsed cluster
    var n = D.nodes[i];
    if (n.module && collapsed[n.module]) { var b = boxes[n.module]; return {x: b.x, y: b.y, w: b.w, h: b.h}; }
    return {x: px(n), y: py(n), w: W, h: H};
  }
  function draw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var defs = el("defs", {}, svg);
    var mk = el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7,
                           markerHeight: 7, orient: "auto-start-reverse"}, defs);
    el("path", {d: "M0,0L10,5L0,10z", fill: "#6b7280"}, mk);
    var root = el("g", {id: "world"}, svg);
    var gc = el("g", {}, root), ge = el("g", {}, root), gn = el("g", {}, root);
    Object.keys(clusters).forEach(function (c) {
      var b = boxes[c] = clusterBox(c);
      var g = el("g", {"class": "cluster" + (collapsed[c] ? " collapsed" : ""), "data-module": c}, gc);
      el("rect", {x: b.x, y: b.y, width: b.w, height: b.h}, g);
      var t = el("text", {x: b.x + 8, y: b.y + 16, tabindex: 0, role: "button"}, g);
      t.textContent = (collapsed[c] ? "▸ " : "▾ ") + c + " (" + clusters[c].length + " nodes)";
      function toggle() { collapsed[c] = !collapsed[c]; draw(); apply(); }
      t.addEventListener("click", toggle);
      t.addEventListener("keydown", function (ev) { if (ev.key === "Enter") { toggle(); ev.stopPropagation(); } });
    });
    edgeEls = D.steps.map(function (s) {
      var a = D.nodes[s.src], b = D.nodes[s.dst];
      if (a.module && a.module === b.module && collapsed[a.module]) return null;
      var p = anchor(s.src), q = anchor(s.dst);
      var x1 = p.x + p.w, y1 = p.y + p.h / 2, x2 = q.x, y2 = q.y + q.h / 2, mx = (x1 + x2) / 2;
      var g = el("g", {"class": "edge", id: "e-" + s.edge}, ge);
      el("path", {d: "M" + x1 + "," + y1 + "C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2}, g);
      // The label sits near the consumer: edges leaving one node then keep their labels apart.
      var t = el("text", {x: x2 - 6, y: y2 - 5, "text-anchor": "end"}, g);
      return {g: g, t: t};
    });
    nodeEls = D.nodes.map(function (n) {
      if (n.module && collapsed[n.module]) return null;
      var g = el("g", {"class": "node " + n.kind, id: "n-" + n.id, "data-name": n.name, tabindex: 0,
                       transform: "translate(" + px(n) + "," + py(n) + ")"}, gn);
      el("rect", {width: W, height: H}, g);
      var t1 = el("text", {x: 8, y: 15, "class": "name"}, g);
      t1.textContent = n.name + (n.op ? "  " + n.op : "");
      var t2 = el("text", {x: 8, y: 31, "class": "value"}, g);
      var t3 = el("text", {x: 8, y: 47, "class": "grad"}, g);
      g.addEventListener("mouseenter", function () { show(n.id); });
      g.addEventListener("click", function () { select(n.id); });
      g.addEventListener("focus", function () { show(n.id); });
      return {g: g, value: t2, grad: t3};
    });
    if (!view) fit(true); else setView();
  }

  // ----- state -----
  function shortText(v) { if (!v) return "?"; var s = v.text; return s.length > 18 ? s.slice(0, 17) + "…" : s; }
  function gradAt(i, done) {  // node i's gradient after `done` backward steps (the sum so far)
    if (step <= N) return null;
    if (i === N - 1) return D.nodes[i].grad;
    var ks = stepsOf[i], last = null;
    for (var j = 0; j < ks.length && ks[j] < done; j++) last = ks[j];
    if (last === null) return null;
    return last === ks[ks.length - 1] ? D.nodes[i].grad : D.steps[last].running;  // complete: all the values
  }
  function uses(i, done) {  // node i's gradient as its sum over uses so far: "c1 + c2 + c3"
    var terms = [];
    stepsOf[i].forEach(function (k) { if (k < done) terms.push(D.steps[k].contribution); });
    return terms.join(" + ").replace(/\+ -/g, "− ");
  }
  function apply() {
    var done = Math.max(0, step - N - 1), cur = step > N + 1 ? step - N - 2 : -1;
    nodeEls.forEach(function (e, i) {
      if (!e) return;
      var n = D.nodes[i], known = i < step, g = gradAt(i, done);
      e.g.classList.toggle("pending", !known);
      e.g.classList.toggle("current", step <= N ? i === step - 1 : (cur >= 0 && D.steps[cur].src === i) ||
                                                                     (step === N + 1 && i === N - 1));
      e.g.classList.toggle("selected", selected === i);
      e.value.textContent = known ? "= " + shortText(n.value) : "";
      e.grad.textContent = g ? "grad " + shortText(g) : "";
    });
    edgeEls.forEach(function (e, k) {
      if (!e) return;
      e.g.classList.toggle("done", k < done);
      e.g.classList.toggle("current", k === cur);
      e.t.textContent = k === cur || (k < done && M <= 60) ? D.steps[k].contribution : "";
    });
    statusEl.textContent = describe(cur);
    follow(step === 0 ? null : step <= N ? step - 1 : step === N + 1 ? N - 1 : D.steps[cur].src);
    if (selected !== null) show(selected);
  }
  function describe(cur) {
    if (step === 0) return "Start: press → (or step) to run the forward pass node by node.";
    if (step <= N) {
      var n = D.nodes[step - 1];
      return "forward " + step + "/" + N + ":  " + n.name + (n.expr ? " = " + n.expr : " (input)") +
             " = " + (n.value ? n.value.text : "?");
    }
    if (step === N + 1) return "backward: seed ∂" + D.root + "/∂" + D.root + " = 1";
    var s = D.steps[cur], src = D.nodes[s.src].name, dst = D.nodes[s.dst].name;
    return "backward " + (cur + 1) + "/" + M + ":  edge " + src + " → " + dst + "\n" + s.symbolic + " = " +
           s.numbers + " = " + s.contribution + (s.partial ? "     (∂" + dst + "/∂" + src + " = " + s.partial + ")" : "") +
           "\n∂" + D.root + "/∂" + src + " so far = " + (stepsOf[s.src].length > 1 ? uses(s.src, cur + 1) + " = " : "") +
           (s.running ? s.running.text : "?");
  }
  function go(s) { step = Math.max(0, Math.min(T, s)); apply(); }
  function play() {
    if (timer) { clearInterval(timer); timer = null; }
    else {
      if (step >= T) step = 0;
      timer = setInterval(function () { if (step >= T) { play(); return; } go(step + 1); },
                          1000 / +document.getElementById("speed").value);
    }
    document.getElementById("play").textContent = timer ? "⏸ pause" : "▶ play";
  }

  // ----- details -----
  function heatCells(v) {  // at most 24 x 24 cells scaled to [-1, 1], from the values when the page has them all
    if (v.heat) return v.heat;
    var k = v.shape.length ? v.shape[v.shape.length - 1] : 1, r = v.values.length / k, scale = 0, out = [];
    v.values.forEach(function (a) { if (isFinite(a)) scale = Math.max(scale, Math.abs(a)); });
    for (var i = 0; i < r; i += Math.ceil(r / 24)) {
      var row = [];
      for (var j = 0; j < k; j += Math.ceil(k / 24)) { var a = +v.values[i * k + j]; row.push(scale ? a / scale : 0); }
      out.push(row);
    }
    return out;
  }
  function heat(v) {
    var c = document.createElement("canvas"), m = heatCells(v), r = m.length, k = m[0].length;
    c.width = k; c.height = r; c.className = "heat";
    var ctx = c.getContext("2d");
    for (var i = 0; i < r; i++) for (var j = 0; j < k; j++) {
      var a = m[i][j], u = Math.round(255 * (1 - Math.min(1, Math.abs(a) || 0)));
      ctx.fillStyle = a >= 0 ? "rgb(255," + u + "," + u + ")" : "rgb(" + u + "," + u + ",255)";
      ctx.fillRect(j, i, 1, 1);
    }
    return c;
  }
  function arrayHtml(v, label) {
    if (!v) return "<dt>" + label + "</dt><dd>not shown yet</dd>";
    var s = "<dt>" + label + "</dt><dd>" + esc(v.text);
    if (v.stats) s += "<br>mean " + v.stats.mean.toPrecision(4) + ", std " + v.stats.std.toPrecision(4) +
                      ", min " + v.stats.min.toPrecision(4) + ", max " + v.stats.max.toPrecision(4);
    if (v.values) s += '<br><span class="heat-slot" data-of="' + label + '"></span>';
    if (v.values) s += '<br><button class="full" data-of="' + label + '">' + (v.values.length < v.size ?
      "first " + v.values.length + " of " : "all ") + v.size + " values</button>";
    return s + "</dd>";
  }
  function fullText(v) {  // rows of the last axis, like NumPy prints them
    var k = v.shape.length ? v.shape[v.shape.length - 1] : 1, rows = [];
    for (var i = 0; i < v.values.length; i += k) rows.push(v.values.slice(i, i + k).join("  "));
    return "shape (" + v.shape.join(", ") + ")\n" + rows.join("\n") +
           (v.values.length < v.size ? "\n… (first " + v.values.length + " of " + v.size + ")" : "");
  }
  function show(i) {
    var n = D.nodes[i], known = i < step, g = gradAt(i, Math.max(0, step - N - 1));
    var h = "<h2>" + esc(n.name) + "</h2><dl><dt>kind</dt><dd>" + n.kind + (n.module ? " in " + esc(n.module) : "") +
            "</dd>" + (n.op ? "<dt>op</dt><dd>" + esc(n.op) + "</dd><dt>computes</dt><dd>" + esc(n.name + " = " + n.expr) +
            "</dd>" : "") + "<dt>shape</dt><dd>" + shape(n) + " " + n.dtype + "</dd>" +
            arrayHtml(known ? n.value : null, "value") + arrayHtml(g, "grad");
    var done = Math.max(0, step - N - 1);
    if (stepsOf[i].length > 1 && g) h += "<dt>sum of uses</dt><dd>" + esc(uses(i, done)) + "</dd>";
    n.inputs.forEach(function (a, j) {
      if (a === null) return;
      h += "<dt>∂" + esc(n.name) + "/∂" + esc(D.nodes[a].name) + "</dt><dd>" + esc(n.partials[j] || "(vector-Jacobian product)") + "</dd>";
    });
    if (n.site) h += "<dt>created at</dt><dd>" + esc(n.site) + (n.source ? "<br><code>" + esc(n.source) + "</code>" : "") + "</dd>";
    details.innerHTML = h + "</dl><pre id=\"full\" hidden></pre>";
    var views = {value: known ? n.value : null, grad: g};
    details.querySelectorAll(".heat-slot").forEach(function (slot) { slot.appendChild(heat(views[slot.dataset.of])); });
    details.querySelectorAll("button.full").forEach(function (b) {
      b.addEventListener("click", function () {
        var pre = document.getElementById("full"); pre.textContent = fullText(views[b.dataset.of]); pre.hidden = false;
      });
    });
  }
  function select(i) { selected = selected === i ? null : i; apply(); if (selected !== null) show(i); }

  // ----- view: fit, zoom, pan -----
  function setView() { svg.setAttribute("viewBox", view.x + " " + view.y + " " + view.w + " " + view.h); }
  function fit(readable) {  // the whole graph; with `readable`, no smaller than 1/1.6 of full size (then
    var w = 0, h = 0, r = svg.getBoundingClientRect();  // the view follows the step being shown)
    D.nodes.forEach(function (n) { w = Math.max(w, px(n) + W); h = Math.max(h, py(n) + H); });
    w += PAD; h += PAD;
    var s = Math.max(w / (r.width || 800), h / (r.height || 600));
    var vw = w, vh = h;
    if (readable === true && s > 1.6) { vw = 1.6 * (r.width || 800); vh = 1.6 * (r.height || 600); }
    view = {x: 0, y: Math.min(0, (h - Math.max(vh, s * (r.height || 600))) / 2), w: vw, h: vh}; setView();
  }
  function follow(i) {  // keep the node being computed in sight
    if (i === null || i < 0 || !view) return;
    var n = D.nodes[i], a = anchor(i);
    if (a.x >= view.x && a.x + a.w <= view.x + view.w && a.y >= view.y && a.y + a.h <= view.y + view.h) return;
    view = {x: a.x + a.w / 2 - view.w / 2, y: a.y + a.h / 2 - view.h / 2, w: view.w, h: view.h}; setView();
  }
  svg.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var r = svg.getBoundingClientRect(), f = ev.deltaY > 0 ? 1.15 : 1 / 1.15;
    var cx = view.x + (ev.clientX - r.left) / r.width * view.w, cy = view.y + (ev.clientY - r.top) / r.height * view.h;
    view = {x: cx - (cx - view.x) * f, y: cy - (cy - view.y) * f, w: view.w * f, h: view.h * f}; setView();
  }, {passive: false});
  var drag = null;
  svg.addEventListener("pointerdown", function (ev) { drag = {x: ev.clientX, y: ev.clientY, v: view}; });
  window.addEventListener("pointerup", function () { drag = null; });
  svg.addEventListener("pointermove", function (ev) {
    if (!drag) return;
    var r = svg.getBoundingClientRect(), s = drag.v.w / r.width;
    view = {x: drag.v.x - (ev.clientX - drag.x) * s, y: drag.v.y - (ev.clientY - drag.y) * s, w: drag.v.w, h: drag.v.h};
    setView();
  });

  // ----- controls -----
  function on(id, f) { var b = document.getElementById(id); if (b) b.addEventListener("click", f); }
  on("reset", function () { if (timer) play(); go(0); });
  on("prev", function () { go(step - 1); });
  on("next", function () { go(step + 1); });
  on("end", function () { if (timer) play(); go(T); });
  on("play", play);
  on("fit", function () { fit(false); });
  function tables() { var p = document.getElementById("trace-panel"); p.hidden = !p.hidden; }
  on("tables", tables);
  document.addEventListener("keydown", function (ev) {
    var t = ev.target.tagName;
    if (t === "INPUT" || ((t === "BUTTON" || ev.target.getAttribute("role") === "button") &&
                          (ev.key === " " || ev.key === "Enter"))) return;
    var k = ev.key, done = true;
    if (k === "ArrowRight" || k === "n") go(step + 1);
    else if (k === "ArrowLeft" || k === "p") go(step - 1);
    else if (k === " ") play();
    else if (k === "Home" || k === "r") { if (timer) play(); go(0); }
    else if (k === "End") { if (timer) play(); go(T); }
    else if (k === "f") fit(false);
    else if (k === "t" && document.getElementById("tables")) tables();
    else done = false;
    if (done) ev.preventDefault();
  });
  window.chainruleExplorer = {go: go, steps: T, nodes: N, edges: M, get step() { return step; }};
  draw(); apply();
})();
"""
