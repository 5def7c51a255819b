// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  // htmx fires htmx:load for the first page too: wire each element only once.
  function fresh(element) {
    if (element.dataset.wired) return false;
    element.dataset.wired = "1";
    return true;
  }

  function wire(root) {
    // Forms marked data-autosubmit submit when a select changes (org switcher).
    root.querySelectorAll("form[data-autosubmit] select").forEach(function (select) {
      if (!fresh(select)) return;
      select.addEventListener("change", function () { select.form.requestSubmit(); });
    });
    // Plain forms with data-confirm ask before submitting (htmx uses hx-confirm).
    root.querySelectorAll("form[data-confirm]").forEach(function (form) {
      if (!fresh(form)) return;
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.dataset.confirm)) event.preventDefault();
      });
    });
    root.querySelectorAll("[data-dismiss]").forEach(function (button) {
      if (!fresh(button)) return;
      button.addEventListener("click", function () { button.parentElement.remove(); });
    });
    // Cancel in a confirmation panel (capability switches) closes the panel.
    root.querySelectorAll("[data-close-panel]").forEach(function (button) {
      if (!fresh(button)) return;
      button.addEventListener("click", function () {
        var panel = button.closest(".confirm-panel");
        if (panel) panel.remove();
      });
    });
    // Scheduling forms carry the browser's time zone: the time typed is meant in it.
    var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) {
      root.querySelectorAll("input[data-browser-zone]").forEach(function (input) {
        if (!input.value) input.value = zone;
      });
      root.querySelectorAll("[data-browser-zone-name]").forEach(function (label) {
        label.textContent = zone;
      });
    }
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      if (!fresh(button)) return;
      button.addEventListener("click", function () {
        var target = document.getElementById(button.dataset.copy);
        if (!target || !navigator.clipboard) return;
        navigator.clipboard.writeText(target.textContent.trim()).then(function () {
          button.textContent = "Copied";
        });
      });
    });
  }

  onReady(function () { wire(document); });
  document.addEventListener("htmx:load", function (event) { wire(event.target); });
})();
