// Draws the run comparison chart from the JSON the page embeds (no inline script, CSP-friendly).
(function () {
  "use strict";
  var source = document.getElementById("compare-chart-data");
  var canvas = document.getElementById("compare-chart");
  if (!source || !canvas || typeof Chart === "undefined") return;
  var data = JSON.parse(source.textContent);
  new Chart(canvas, {
    type: "bar",
    data: {
      labels: data.labels,
      datasets: [{ label: data.key, data: data.values, backgroundColor: "#5a3fd6" }],
    },
    options: { responsive: true, maintainAspectRatio: false, animation: false, plugins: { legend: { display: false } } },
  });
})();
