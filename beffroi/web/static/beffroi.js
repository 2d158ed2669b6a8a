// Beffroi: small progressive enhancements; every page works without this file.
"use strict";
(function () {
  // Upload wizard: dropping a file on the zone fills the file input.
  document.querySelectorAll("[data-dropzone]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    if (!input) { return; }
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) { input.files = event.dataTransfer.files; }
    });
  });
  // Job follow-up: reload the page when the job has finished (no automatic refresh otherwise).
  var follow = document.getElementById("suivi");
  if (follow && (follow.dataset.status === "queued" || follow.dataset.status === "running")) {
    var poll = function () {
      fetch("/api/v1/jobs/" + follow.dataset.job, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (job) {
          if (job && job.status !== "queued" && job.status !== "running") { window.location.reload(); }
          else { window.setTimeout(poll, 1000); }
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    };
    window.setTimeout(poll, 1000);
  }
})();
