// BoxOffice's own small script. Every page works without it; it only enhances:
// a show-password toggle, focus on the error summary, and buttons that cannot be
// pressed twice while their form is being sent.
(function () {
  "use strict";

  // Back to a page from the browser's cache: its sent forms' buttons work again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    document.querySelectorAll("form[data-once] button[type=submit]").forEach(function (button) {
      button.disabled = false;
      button.removeAttribute("aria-disabled");
      var idle = button.getAttribute("data-idle");
      if (idle) { button.textContent = idle; }
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("error-summary");
    if (summary) {
      summary.focus();
    }
    document.querySelectorAll("[data-show-password]").forEach(function (toggle) {
      var input = document.getElementById(toggle.getAttribute("data-show-password"));
      if (!input) { return; }
      toggle.addEventListener("change", function () {
        input.type = toggle.checked ? "text" : "password";
      });
    });
    // A link in the error summary moves focus to its field, not only the scroll position.
    document.querySelectorAll(".error-summary a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (target) {
          event.preventDefault();
          target.focus();
        }
      });
    });
    // Once a form is sent, its submit button says so and cannot be pressed again.
    document.querySelectorAll("form[data-once]").forEach(function (form) {
      form.addEventListener("submit", function () {
        form.querySelectorAll("button[type=submit]").forEach(function (button) {
          button.setAttribute("aria-disabled", "true");
          button.disabled = true;
          var pending = button.getAttribute("data-pending");
          if (pending) {
            button.setAttribute("data-idle", button.textContent);
            button.textContent = pending;
          }
        });
      });
    });
  });
})();
