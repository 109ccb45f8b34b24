// Data Docs offline: the few behaviours of Bootstrap's and jQuery's scripts that Great Expectations'
// pages use, written for this project (pipeline/ingest/data_docs.py) so no page loads a script from
// outside: collapsible sections ("Show more info...", notes) and the "Failed Only" filter.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var toggle = event.target.closest('[data-toggle="collapse"]');
    if (!toggle) { return; }
    var id = (toggle.getAttribute("data-target") || toggle.getAttribute("href") || "").replace(/^#/, "");
    var target = id && document.getElementById(id);
    if (!target) { return; }
    event.preventDefault();
    var shown = target.classList.toggle("show");
    toggle.setAttribute("aria-expanded", shown ? "true" : "false");
  });

  function filter(failedOnly) {
    var display = failedOnly ? "none" : "";
    document.querySelectorAll(".hide-succeeded-validation-target-child").forEach(function (el) {
      if (el.parentElement) { el.parentElement.style.display = display; }
    });
    document.querySelectorAll(".hide-succeeded-validation-target").forEach(function (el) {
      el.style.display = display;
    });
    document.querySelectorAll(".hide-succeeded-validations-column-section-target-child").forEach(function (el) {
      var section = el.parentElement && el.parentElement.parentElement;
      if (!section) { return; }
      section.style.display = display;
      if (section.id) {
        document.querySelectorAll('a[href="#' + section.id + '"]').forEach(function (link) {
          link.style.display = display;
        });
      }
    });
    document.querySelectorAll(".btn-group-toggle .btn").forEach(function (label, index) {
      label.classList.toggle("active", (index === 1) === failedOnly);
    });
  }

  // The pages' own definitions of these use jQuery; this script runs after them (deferred).
  window.showAllValidations = function () { filter(false); };
  window.hideSucceededValidations = function () { filter(true); };
  // Says the page's script was found and ran (the browser test reads it).
  document.documentElement.setAttribute("data-offline-docs", "ready");
}());
