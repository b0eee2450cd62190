// Starts Swagger UI on /docs from a file, so the page needs no inline script.
window.addEventListener("DOMContentLoaded", function () {
  var el = document.getElementById("swagger-ui");
  if (!window.SwaggerUIBundle || !el) { return; }
  window.SwaggerUIBundle({ url: el.dataset.openapi, dom_id: "#swagger-ui" });
});
