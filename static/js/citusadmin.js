// Small progressive enhancements; every page works without this file.
document.addEventListener("change", function (event) {
  var select = event.target.closest("[data-cluster-switcher] select");
  if (select && select.value) { window.location.assign(select.value); }
});
// Confirmation for destructive buttons marked data-confirm.
document.addEventListener("submit", function (event) {
  var message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// Monitoring panels refresh themselves (hx-trigger="every Ns"); the Pause box holds them.
document.addEventListener("htmx:beforeRequest", function (event) {
  var pause = document.getElementById("pause-refresh");
  if (pause && pause.checked && event.detail.elt.hasAttribute("data-refresh")) { event.preventDefault(); }
});
