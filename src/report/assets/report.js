// wasi-conform report: the page's script (src/report/assets/report.js), inlined.
// Filters and the scenario drill-down live in the URL fragment, e.g.
// #runtime=wasmtime,node&function=path_open&status=fail,not-applicable&verdict=escape&scenario=path_open/x
// so a filtered view can be linked to (a fragment without `=`, like `#matrix`, is a plain
// anchor and leaves the filters as they are). The applied state is mirrored into the
// data-* attributes of #filter-state (read by the browser test).
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var allRuntimes = data.runtimes.map(function (r) { return r.name; });
  // The statuses and verdicts the filters offer: the page's own checkboxes (one list, in
  // src/report/html.rs).
  function values(name) {
    return Array.prototype.map.call(document.querySelectorAll("input[name=" + name + "]"), function (c) { return c.value; });
  }
  var allStatuses = values("status");
  var allVerdicts = values("verdict");
  var scenarios = {};
  data.scenarios.forEach(function (s) { scenarios[s.id] = s; });
  var results = {};
  data.results.forEach(function (r) {
    (results[r.scenario] = results[r.scenario] || {})[r.runtime] = r;
  });

  function parseHash() {
    var st = { runtimes: allRuntimes.slice(), func: "", statuses: allStatuses.slice(), verdicts: allVerdicts.slice(), scenario: "" };
    location.hash.replace(/^#/, "").split("&").forEach(function (kv) {
      if (!kv) return;
      var i = kv.indexOf("=");
      var k = i < 0 ? kv : kv.slice(0, i);
      var v = i < 0 ? "" : decodeURIComponent(kv.slice(i + 1));
      var list = v.split(",").filter(function (x) { return x; });
      if (k === "runtime") st.runtimes = allRuntimes.filter(function (r) { return list.indexOf(r) >= 0; });
      else if (k === "status") st.statuses = allStatuses.filter(function (s) { return list.indexOf(s) >= 0; });
      else if (k === "verdict") st.verdicts = allVerdicts.filter(function (v) { return list.indexOf(v) >= 0; });
      else if (k === "function") st.func = v;
      else if (k === "scenario") st.scenario = v;
    });
    return st;
  }

  function toHash(st) {
    var parts = [];
    if (st.runtimes.length !== allRuntimes.length) parts.push("runtime=" + encodeURIComponent(st.runtimes.join(",")));
    if (st.func) parts.push("function=" + encodeURIComponent(st.func));
    if (st.statuses.length !== allStatuses.length) parts.push("status=" + encodeURIComponent(st.statuses.join(",")));
    if (st.verdicts.length !== allVerdicts.length) parts.push("verdict=" + encodeURIComponent(st.verdicts.join(",")));
    if (st.scenario) parts.push("scenario=" + encodeURIComponent(st.scenario));
    return parts.join("&");
  }

  function controlsState() {
    var st = parseHash();
    st.runtimes = Array.prototype.filter.call(document.querySelectorAll("input[name=runtime]"), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    st.statuses = Array.prototype.filter.call(document.querySelectorAll("input[name=status]"), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    st.verdicts = Array.prototype.filter.call(document.querySelectorAll("input[name=verdict]"), function (c) { return c.checked; })
      .map(function (c) { return c.value; });
    st.func = document.getElementById("function-filter").value;
    return st;
  }

  function each(sel, f) { Array.prototype.forEach.call(document.querySelectorAll(sel), f); }
  function show(el, on) { el.classList.toggle("hidden", !on); }

  function apply(st) {
    // The `checked` attribute too (defaultChecked), so that a DOM dump shows the state.
    each("input[name=runtime]", function (c) { c.checked = c.defaultChecked = st.runtimes.indexOf(c.value) >= 0; });
    each("input[name=status]", function (c) { c.checked = c.defaultChecked = st.statuses.indexOf(c.value) >= 0; });
    each("input[name=verdict]", function (c) { c.checked = c.defaultChecked = st.verdicts.indexOf(c.value) >= 0; });
    document.getElementById("function-filter").value = st.func;
    var rtOn = function (r) { return !r || st.runtimes.indexOf(r) >= 0; };
    var fnOn = function (f) { return !st.func || !f || f === st.func; };
    var matrixRows = 0;
    each("#matrix-table tbody tr", function (tr) {
      var on = rtOn(tr.dataset.runtime);
      show(tr, on);
      if (on) matrixRows++;
    });
    each("#matrix-table [data-function]", function (c) { show(c, fnOn(c.dataset.function)); });
    each("[data-runtime]", function (c) { show(c, rtOn(c.dataset.runtime)); });
    var visible = 0;
    each("#scenario-table tbody tr", function (tr) {
      var on = fnOn(tr.dataset.function);
      if (on) {
        on = Array.prototype.some.call(tr.querySelectorAll("td[data-status]"), function (td) {
          return rtOn(td.dataset.runtime) && st.statuses.indexOf(td.dataset.status) >= 0 &&
            st.verdicts.indexOf(td.dataset.verdict) >= 0;
        });
      }
      show(tr, on);
      if (on) visible++;
    });
    each("#denial-table [data-column-function]", function (c) { show(c, fnOn(c.dataset.columnFunction)); });
    var out = document.getElementById("filter-state");
    out.dataset.runtimes = st.runtimes.join(",");
    out.dataset.function = st.func;
    out.dataset.statuses = st.statuses.join(",");
    out.dataset.verdicts = st.verdicts.join(",");
    out.dataset.visibleScenarios = String(visible);
    out.dataset.visibleMatrixRows = String(matrixRows);
    out.dataset.scenario = st.scenario;
    out.textContent = visible + " of " + data.scenarios.length + " scenarios shown";
    detail(st);
  }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return e;
  }

  function detail(st) {
    var aside = document.getElementById("detail");
    var s = scenarios[st.scenario];
    aside.replaceChildren();
    if (!s) { aside.hidden = true; return; }
    aside.hidden = false;
    var close = el("a", { href: "#" + toHash(Object.assign({}, st, { scenario: "" })), class: "close", text: "close ✕" });
    aside.appendChild(close);
    aside.appendChild(el("h2", { text: s.id }));
    aside.appendChild(el("p", { text: s.summary }));
    aside.appendChild(el("p", { class: "meta" }, ["spec (" + s.strength + "): " + s.spec]));
    if (s.choice) {
      aside.appendChild(el("p", { class: "choice" }, [el("strong", { text: "The reference's choice" }),
        " (agreement with it is not conformance): " + s.choice]));
    }
    if (s.requires && s.requires.length) {
      aside.appendChild(el("p", { class: "meta", text: "requires: " + s.requires.join(", ") +
        " (a runtime without it is not applicable, neither pass nor fail)" }));
    }
    aside.appendChild(el("p", { class: "meta" }, ["file: ", el("code", { text: s.source })]));
    if (s.denial) aside.appendChild(el("p", { class: "meta", text: "capability denial: vector " + s.denial.vector + ", " + s.denial.column }));
    var rts = st.runtimes.filter(function (r) { return results[s.id] && results[s.id][r]; });
    var head = el("tr", {}, [el("th", { text: "step" }), el("th", { text: "call (as written)" }), el("th", { text: "expected" })]
      .concat(rts.map(function (r) { return el("th", { text: r }); })));
    var table = el("table", { id: "steps-table" }, [head]);
    var number = 0;
    s.steps.forEach(function (step, i) {
      var label = step.probe ? "probe: " + step.probe : String(++number);
      var tr = el("tr", {}, [el("td", { text: label + " (line " + step.line + ")" }), el("td", { class: "mono", text: step.call }),
        el("td", { text: step.expect === null ? "(not checked)" : step.expect })]);
      rts.forEach(function (r) {
        var seen = results[s.id][r].steps[i];
        var cls = !seen || seen.errno_ok === null ? "na" : seen.errno_ok ? "ok" : "bad";
        tr.appendChild(el("td", { class: cls, text: seen ? seen.observed : "(no trace)" }));
      });
      table.appendChild(tr);
    });
    var end = el("tr", {}, [el("td", { text: "end" }), el("td", { text: "how the program ends" }), el("td", { text: s.end })]);
    rts.forEach(function (r) {
      var x = results[s.id][r];
      end.appendChild(el("td", { class: x.verdict === "pass" ? "ok" : "na", text: x.ending === null ? "(did not run)" : x.ending }));
    });
    table.appendChild(end);
    aside.appendChild(el("h3", { text: "Expected vs observed per step" }));
    aside.appendChild(table);
    aside.appendChild(el("h3", { text: "Per runtime" }));
    rts.forEach(function (r) {
      var x = results[s.id][r];
      var block = el("div", { class: "runtime-block", "data-detail-runtime": r }, [
        el("strong", { text: r + ": " }), el("span", { class: "st-" + x.status, text: " " + x.status + " " }),
        " verdict " + x.verdict]);
      if (x.cause) block.appendChild(el("div", { class: "cause" }, ["cause: ", el("code", { text: x.cause })]));
      if (x.message) block.appendChild(el("pre", { text: x.message }));
      block.appendChild(el("div", {}, ["reproduce: ", el("code", { class: "reproduce", text: x.reproduce })]));
      aside.appendChild(block);
    });
    if (!rts.length) aside.appendChild(el("p", { text: "No selected runtime has a result for this scenario." }));
  }

  function onControl() { location.hash = toHash(controlsState()); }
  each("#filters input, #filters select", function (c) { c.addEventListener("change", onControl); });
  document.getElementById("filter-reset").addEventListener("click", function () { location.hash = ""; });
  // A plain anchor (`#matrix`, from the page's navigation) only scrolls: the filters stay;
  // one naming a closed list (`#denial-over-refusal`) opens it.
  function openAnchor() {
    var target = location.hash.length > 1 && location.hash.indexOf("=") < 0 && document.getElementById(location.hash.slice(1));
    if (target && target.tagName === "DETAILS") target.open = true;
  }
  window.addEventListener("hashchange", function () {
    if (location.hash.length <= 1 || location.hash.indexOf("=") >= 0) apply(parseHash());
    else openAnchor();
  });
  apply(parseHash());
  openAnchor();
  document.body.dataset.ready = "true";
})();
