// Footfall public counts: fills every element with data-footfall-count="/path" (empty: this page;
// TOTAL: the whole site) with its number, in one request per hundred paths.
//   <script defer src="https://stats.example.com/counter.js" data-domain="example.com"></script>
//   <span data-footfall-count="/blog/post"></span> views
// Options on the script tag: data-period (day, 7d, 30d, month, year, all; default all), and
// data-hash on a hash-routed site, whose pages are /#/route (this page is then path + hash).
// Options on an element: data-footfall-metric="visitors" (default pageviews).
(function () {
  var script = document.currentScript;
  if (!script) return;
  var api = new URL(script.src).origin + "/api/counter";
  var site = script.getAttribute("data-domain") || location.hostname.replace(/^www\./, "");
  var period = script.getAttribute("data-period") || "all";
  var hashRouted = script.hasAttribute("data-hash");

  function fill() {
    var elements = document.querySelectorAll("[data-footfall-count]");
    var byPath = {};
    var paths = [];
    for (var i = 0; i < elements.length; i++) {
      var path =
        elements[i].getAttribute("data-footfall-count") ||
        location.pathname + (hashRouted ? location.hash : "");
      if (!byPath[path]) {
        byPath[path] = [];
        paths.push(path);
      }
      byPath[path].push(elements[i]);
    }
    for (var start = 0; start < paths.length; start += 100) {
      ask(paths.slice(start, start + 100), byPath);
    }
  }

  function ask(paths, byPath) {
    var query = "?site=" + encodeURIComponent(site) + "&period=" + encodeURIComponent(period);
    for (var i = 0; i < paths.length; i++) query += "&path=" + encodeURIComponent(paths[i]);
    fetch(api + query)
      .then(function (response) {
        if (!response.ok) throw new Error("Footfall counter: " + response.status);
        return response.json();
      })
      .then(function (answer) {
        var counts = [].concat(answer);
        for (var i = 0; i < paths.length && i < counts.length; i++) {
          var elements = byPath[paths[i]];
          for (var j = 0; j < elements.length; j++) {
            var metric = elements[j].getAttribute("data-footfall-metric") === "visitors" ? "visitors" : "pageviews";
            elements[j].textContent = Number(counts[i][metric]).toLocaleString();
            elements[j].setAttribute("data-footfall-filled", "");
          }
        }
      })
      .catch(function (error) {
        if (window.console) console.warn(error);
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fill);
  else fill();
})();
