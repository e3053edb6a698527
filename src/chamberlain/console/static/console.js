// Live validation for policy editors: posts the text to the console's validator
// (same session, same CSRF token as the form) and shows where the problem is.
"use strict";
document.querySelectorAll("textarea[data-validate]").forEach(function (area) {
  var out = document.getElementById(area.getAttribute("aria-describedby"));
  var timer = null;
  function check() {
    var body = new URLSearchParams();
    body.set("csrf", area.form.elements.namedItem("csrf").value);
    body.set("document", area.value);
    body.set("kind", area.dataset.kind || "identity");
    fetch(area.dataset.validate, { method: "POST", body: body, credentials: "same-origin" })
      .then(function (answer) { return answer.json(); })
      .then(function (found) {
        if (found.ok) {
          out.textContent = "No problems found.";
          out.className = "validation ok";
          return;
        }
        var where = found.line ? "Line " + found.line + ", column " + found.column +
          (found.end_line && found.end_line !== found.line ? " (to line " + found.end_line + ")" : "") + ": " : "";
        out.textContent = where + found.message;
        out.className = "validation error";
      });
  }
  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 300);
  });
  check();
});
