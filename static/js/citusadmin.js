// Small progressive enhancements; every page works without this file.
document.addEventListener("change", function (event) {
  var select = event.target.closest("[data-cluster-switcher] select");
  if (select && select.value) { window.location.assign(select.value); }
});
// The rule for destructive actions: a preview page shows the exact SQL, and the final button (or its
// form) carries data-confirm, so the browser asks once more, naming the subject. The button that
// submitted wins over its form (a form can hold a safe and a destructive button).
document.addEventListener("submit", function (event) {
  var submitter = event.submitter;
  var message = (submitter && submitter.getAttribute("data-confirm")) || event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// Monitoring panels refresh themselves (hx-trigger="every Ns"); the Pause box holds them.
document.addEventListener("htmx:beforeRequest", function (event) {
  var pause = document.getElementById("pause-refresh");
  if (pause && pause.checked && event.detail.elt.hasAttribute("data-refresh")) { event.preventDefault(); }
});
