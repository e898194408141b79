// The abort button: POST with the token the user typed as a bearer token (a header no cross-site form can send).
"use strict";
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (form.id !== "abort-form") return;
  event.preventDefault();
  const result = document.getElementById("abort-result");
  const field = form.elements.namedItem("token");
  const response = await fetch(form.dataset.url, {
    method: "POST",
    headers: { Authorization: "Bearer " + field.value },
    credentials: "same-origin",
  });
  field.value = "";
  const body = await response.json().catch(() => ({}));
  result.textContent = response.ok
    ? `campaign ${body.name}: ${body.state}`
    : `refused (${response.status}): ${body.error || response.statusText}`;
  result.className = response.ok ? "ok" : "refused";
});
