// Starts Swagger UI on /docs from a file, so the page needs no inline script. Swagger UI is
// served by DevTrack itself (/static/swagger-ui/); validatorUrl: null keeps it from asking a
// third-party validator about this API (the CSP would block that image anyway).
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("swagger-ui");
  if (!window.SwaggerUIBundle || !el) { return; }
  window.SwaggerUIBundle({ url: el.dataset.openapi, dom_id: "#swagger-ui", validatorUrl: null });
});
