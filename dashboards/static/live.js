// Live updates by server-sent events: the server sends {id: text} pairs and
// this replaces the text of the elements with those ids. No framework.
(function () {
  var src = document.body.getAttribute("data-live");
  if (!src || !window.EventSource) { return; }
  var es = new EventSource(src);
  es.addEventListener("update", function (ev) {
    var data = JSON.parse(ev.data);
    Object.keys(data).forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.textContent !== data[id]) { el.textContent = data[id]; }
    });
  });
})();
