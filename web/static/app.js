// rackpulse dashboard: live updates, charts (uPlot) and sortable tables.
// Every page works without this script; it only keeps the page current.
(function () {
  "use strict";
  var interval = Math.max(5, parseFloat(document.body.dataset.interval) || 30) * 1000;
  var sortState = {}; // table id -> {col, dir}

  // --- sortable tables ---------------------------------------------------
  function cellValue(row, col, kind) {
    var cell = row.cells[col];
    if (!cell) return "";
    if (cell.dataset.v !== undefined) return parseFloat(cell.dataset.v);
    var text = cell.textContent.trim();
    return kind === "num" ? parseFloat(text) || 0 : text.toLowerCase();
  }
  function sortTable(table, col, dir) {
    var th = table.tHead.rows[0].cells[col];
    var kind = th.dataset.sort;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, col, kind), y = cellValue(b, col, kind);
      return (x < y ? -1 : x > y ? 1 : 0) * dir;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c, i) {
      c.setAttribute("aria-sort", i === col ? (dir > 0 ? "ascending" : "descending") : "none");
    });
  }
  function wireTables(root) {
    root.querySelectorAll("table.sortable").forEach(function (table) {
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        if (!th.dataset.sort) return;
        th.tabIndex = 0;
        th.addEventListener("click", function () {
          var s = sortState[table.id];
          var dir = s && s.col === col ? -s.dir : 1;
          sortState[table.id] = { col: col, dir: dir };
          sortTable(table, col, dir);
        });
      });
      var s = sortState[table.id];
      if (s) sortTable(table, s.col, s.dir);
    });
  }

  // --- charts --------------------------------------------------------------
  var palette = ["#4fc3f7", "#ffb74d", "#ba68c8", "#81c784", "#e57373", "#90a4ae"];
  function Chart(box) {
    this.box = box;
    this.query = box.dataset.chart;
    this.range = "1h";
    this.el = box.querySelector(".chart");
    this.note = box.querySelector(".chart-note");
    this.plot = null;
    this.names = "";
    var self = this;
    box.querySelectorAll("button[data-range]").forEach(function (b) {
      b.addEventListener("click", function () {
        box.querySelectorAll("button[data-range]").forEach(function (o) { o.setAttribute("aria-pressed", o === b ? "true" : "false"); });
        self.range = b.dataset.range;
        self.load();
      });
    });
  }
  Chart.prototype.load = function () {
    var self = this;
    var url = "/api/history?" + (this.query ? this.query + "&" : "") + "range=" + this.range;
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("history: " + r.status);
      return r.json();
    }).then(function (h) { self.draw(h); }).catch(function (e) {
      self.note.textContent = "chart unavailable: " + e.message;
    });
  };
  Chart.prototype.draw = function (h) {
    this.note.textContent = (h.note ? h.note + " · " : "") + "source: " + h.source;
    var tables = h.series.map(function (s) { return [s.t, s.w]; });
    var data = tables.length ? uPlot.join(tables) : [[], []];
    var names = h.series.map(function (s) { return s.name; }).join("|");
    var width = Math.max(300, this.el.clientWidth || 600);
    if (this.plot && names === this.names) {
      this.plot.setData(data);
      return;
    }
    if (this.plot) this.plot.destroy();
    this.names = names;
    var series = [{}];
    h.series.forEach(function (s, i) {
      series.push({ label: s.name, stroke: palette[i % palette.length], width: 2, spanGaps: false,
        value: function (u, v) { return v == null ? "–" : Math.round(v) + " W"; } });
    });
    if (!h.series.length) series.push({ label: "no data" });
    this.plot = new uPlot({
      width: width, height: 260, series: series,
      axes: [{ stroke: "#9aa5b1", grid: { stroke: "#2b3440" } },
             { stroke: "#9aa5b1", grid: { stroke: "#2b3440" }, size: 70, values: function (u, vals) { return vals.map(function (v) { return v >= 1000 ? (v / 1000).toFixed(1) + " kW" : v + " W"; }); } }],
      scales: { x: { time: true } }
    }, data, this.el);
  };
  Chart.prototype.resize = function () {
    if (this.plot) this.plot.setSize({ width: Math.max(300, this.el.clientWidth), height: 260 });
  };
  var charts = [];
  document.querySelectorAll(".chart-box").forEach(function (box) {
    var c = new Chart(box);
    charts.push(c);
    c.load();
  });
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });

  // --- live updates ----------------------------------------------------------
  var live = document.getElementById("live");
  function refresh() {
    var url = location.pathname + (location.search ? location.search + "&" : "?") + "fragment=1";
    fetch(url, { headers: { Accept: "text/html" } }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      // The charts are kept across the swap: their new placeholders take
      // the existing chart boxes back.
      var kept = {};
      live.querySelectorAll(".chart-box").forEach(function (b) { kept[b.dataset.chart] = b; });
      live.innerHTML = html;
      live.querySelectorAll(".chart-box").forEach(function (b) {
        var old = kept[b.dataset.chart];
        if (old) b.replaceWith(old);
      });
      wireTables(live);
      document.body.classList.remove("offline");
    }).catch(function () {
      document.body.classList.add("offline");
    });
    fetch("/api/alerts?state=firing").then(function (r) { return r.ok ? r.json() : null; }).then(function (alerts) {
      if (!alerts) return;
      var badge = document.getElementById("nav-alerts");
      var critical = alerts.filter(function (a) { return a.severity === "critical"; }).length;
      badge.textContent = alerts.length;
      badge.className = "badge " + (critical ? "critical" : alerts.length ? "warning" : "quiet");
    }).catch(function () {});
    charts.forEach(function (c) { c.load(); });
  }
  wireTables(document);
  if (live) setInterval(refresh, interval);
})();
