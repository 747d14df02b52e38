// The console's only page script: draws each chart whose configuration the server embedded as
// JSON (<script type="application/json">) with Chart.js. Nothing else runs in the page.
(function () {
  'use strict';
  function draw() {
    var canvases = document.querySelectorAll('canvas[data-chart]');
    for (var i = 0; i < canvases.length; i += 1) {
      var canvas = canvases[i];
      var source = document.getElementById(canvas.getAttribute('data-chart'));
      if (!source) continue;
      try {
        new Chart(canvas, JSON.parse(source.textContent));
        canvas.setAttribute('data-drawn', 'true');
      } catch (error) {
        canvas.setAttribute('data-drawn', 'failed');
        if (window.console) window.console.error('chart', error);
      }
    }
    document.documentElement.setAttribute('data-charts-drawn', 'true');
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', draw);
  else draw();
})();
