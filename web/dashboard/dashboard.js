// Profile Builder dashboard: small progressive enhancements; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Range form: submit as soon as a choice changes (except while typing a time zone).
  const range = document.getElementById("range-form");
  if (range) {
    range.querySelectorAll("select, input[type=date]").forEach((field) => {
      field.addEventListener("change", () => range.requestSubmit());
    });
  }
  // Profile list: filter the rows already shown while typing; Enter searches the server.
  const search = document.getElementById("q");
  const table = document.getElementById("profiles-table");
  if (search && table) {
    search.addEventListener("input", () => {
      const needle = search.value.trim().toLowerCase();
      table.querySelectorAll("tbody tr").forEach((row) => {
        row.classList.toggle("hidden", needle !== "" && !row.textContent.toLowerCase().includes(needle));
      });
    });
  }
  // Empty time zone field: offer the browser's own zone.
  const tz = document.querySelector("input[name=tz]");
  if (tz && !tz.value && window.Intl) {
    tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  }
});
