// Live updates by server-sent events: the server sends {id: text} or
// {id: {text, class}} and this replaces the text (and the class, which sets
// the colour) of the elements with those ids. No framework.
(function () {
  var src = document.body.getAttribute("data-live");
  if (!src || !window.EventSource) { return; }
  var es = new EventSource(src);
  es.addEventListener("update", function (ev) {
    var data = JSON.parse(ev.data);
    Object.keys(data).forEach(function (id) {
      var el = document.getElementById(id);
      var v = data[id];
      if (!el) { return; }
      var text = typeof v === "string" ? v : v.text;
      if (el.textContent !== text) { el.textContent = text; }
      if (typeof v !== "string" && v["class"] && el.className !== v["class"]) {
        el.className = v["class"];
      }
    });
  });
})();
