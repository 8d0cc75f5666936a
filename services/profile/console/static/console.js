// Small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // A click anywhere on a list row opens its card (the name link stays the keyboard path).
  document.querySelectorAll("tr[data-href]").forEach(function (row) {
    row.addEventListener("click", function (event) {
      if (event.target.closest("a, button, input, label")) return;
      window.location.assign(row.dataset.href);
    });
  });
  // The language select switches on change; its button is then not needed.
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
    const button = select.form.querySelector("button");
    if (button) button.classList.add("visually-hidden");
  });
  // At most N tags: the other boxes are disabled once N are ticked.
  document.querySelectorAll("form[data-max]").forEach(function (form) {
    const max = parseInt(form.dataset.max, 10);
    const boxes = form.querySelectorAll("input[type=checkbox][name=tag]");
    const hint = form.querySelector("#tag-limit");
    function update() {
      const ticked = Array.from(boxes).filter(function (b) { return b.checked; }).length;
      boxes.forEach(function (b) { b.disabled = !b.checked && ticked >= max; });
      if (hint) hint.hidden = ticked < max;
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  });
  // Progress pages (export, import) reload themselves until the job is finished.
  const progress = document.querySelector("[data-poll]");
  if (progress) {
    window.setTimeout(function () { window.location.reload(); }, 1000);
  }
  // Drag and drop a file onto the import drop zone.
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    const input = zone.querySelector("input[type=file]");
    const name = zone.querySelector("[data-filename]");
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        if (name) name.textContent = input.files[0].name;
      }
    });
    input.addEventListener("change", function () {
      if (name && input.files.length) name.textContent = input.files[0].name;
    });
  });
  // The column mapping: the dry run runs again as soon as a column's field changes.
  document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () { form.requestSubmit(); });
    });
  });
  // Tests (and styles) can tell that the enhancements above are in place.
  document.documentElement.dataset.enhanced = "1";
});
