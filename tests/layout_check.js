// Layout check run inside a report by tests/browser.rs. It measures the laid
// out page and writes its findings as JSON into <pre id="layout-check">,
// which headless chromium's --dump-dom prints for the test to read.
//
// texts:  every SVG <text> whose bounding box leaves its owner <svg>'s box by
//         more than 1 px (clipped or drawn over the figure's border).
// tables: every <table> whose full width (its scrollWidth, or its box when
//         wider) reaches past the page's content column, the <main> element
//         (or the window when there is none): the reader would have to
//         scroll the page or the table's div.scroll wrapper to see it whole.
(function () {
  var slack = 1;
  var headings = Array.prototype.slice.call(document.querySelectorAll("h2[id], h3[id]"));
  // Where an element sits: its figure's or table's own id, else the id of
  // the last heading before it.
  function place(element, own) {
    var holder = element.closest(own);
    if (holder && holder.id) return "#" + holder.id;
    var last = null;
    headings.forEach(function (h) {
      if (h.compareDocumentPosition(element) & Node.DOCUMENT_POSITION_FOLLOWING) last = h;
    });
    return last ? "after #" + last.id : "top of the page";
  }
  function round(x) { return Math.round(x * 10) / 10; }

  var texts = [];
  var svgCount = 0;
  var textCount = 0;
  document.querySelectorAll("svg").forEach(function (svg, index) {
    svgCount += 1;
    var box = svg.getBoundingClientRect();
    svg.querySelectorAll("text").forEach(function (text) {
      if (text.ownerSVGElement !== svg) return; // measured against a nested svg
      var r = text.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return; // empty or not rendered
      textCount += 1;
      var out = {
        left: box.left - r.left,
        right: r.right - box.right,
        top: box.top - r.top,
        bottom: r.bottom - box.bottom
      };
      var worst = Math.max(out.left, out.right, out.top, out.bottom);
      if (worst > slack) {
        var sides = Object.keys(out).filter(function (k) { return out[k] > slack; });
        texts.push({
          figure: place(svg, "figure"),
          svg: index,
          text: text.textContent.trim(),
          sides: sides.map(function (k) { return k + " " + round(out[k]) + " px"; }).join(", "),
          outside: round(worst)
        });
      }
    });
  });

  var main = document.querySelector("main");
  var limit = main
    ? main.getBoundingClientRect().left + main.clientWidth
    : document.documentElement.clientWidth;
  limit = Math.min(limit, document.documentElement.clientWidth);
  var tables = [];
  var tableCount = 0;
  document.querySelectorAll("table").forEach(function (table, index) {
    tableCount += 1;
    var r = table.getBoundingClientRect();
    var width = Math.max(r.width, table.scrollWidth);
    var over = r.left + width - limit;
    if (over > slack) {
      var head = table.querySelector("tr");
      tables.push({
        table: place(table, "table"),
        index: index,
        header: head
          ? Array.prototype.map.call(head.cells, function (c) { return c.textContent.trim(); })
              .join(" | ").slice(0, 100)
          : "",
        width: round(width),
        room: round(limit - r.left),
        outside: round(over),
        wrapped: !!table.closest("div.scroll")
      });
    }
  });

  var findings = {
    window: window.innerWidth,
    client_width: document.documentElement.clientWidth,
    height: Math.ceil(document.documentElement.scrollHeight),
    svgs: svgCount,
    texts_checked: textCount,
    tables_checked: tableCount,
    texts: texts,
    tables: tables
  };
  // Escape every character the DOM dump would turn into an entity, so the
  // <pre>'s text is the JSON as is.
  var json = JSON.stringify(findings).replace(/[<>&\u007f-\uffff]/g, function (c) {
    return "\\u" + ("000" + c.charCodeAt(0).toString(16)).slice(-4);
  });
  var pre = document.createElement("pre");
  pre.id = "layout-check";
  pre.textContent = json;
  document.body.appendChild(pre);
})();
