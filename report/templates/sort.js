// Sorts a table.sortable by the clicked header's column: by data-sort as a
// number where the cells have one, else by text; a second click reverses.
document.querySelectorAll("table.sortable").forEach(function (table) {
  table.querySelectorAll("thead th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var desc = th.getAttribute("aria-sort") === "ascending";
      table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", desc ? "descending" : "ascending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var key = function (row) {
        var c = row.cells[col];
        var s = c.getAttribute("data-sort");
        return s === null ? c.textContent.trim() : parseFloat(s);
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), r;
        if (typeof x === "number" && typeof y === "number") r = x - y;
        else if (typeof x === "number") r = -1;
        else if (typeof y === "number") r = 1;
        else r = x.localeCompare(y);
        return desc ? -r : r;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
