// Keeps a model page live: re-reads it every data-refresh seconds and swaps the content in,
// while the tab is visible. A lost session goes back to the sign-in page; a failed fetch
// says so in the header and retries at the next tick. No other script, nothing external.
(function () {
  "use strict";
  var seconds = Number(document.body.dataset.refresh || 0);
  if (!seconds || !window.fetch || !window.DOMParser) { return; }
  var live = document.getElementById("live");
  function say(text) { if (live) { live.textContent = text; live.hidden = !text; } }
  function busy() {
    var active = document.activeElement;
    return active && (active.tagName === "INPUT" || active.tagName === "TEXTAREA");
  }
  function tick() {
    if (document.hidden || busy()) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (response.redirected && response.url.indexOf("/ui/login") !== -1) {
          window.location.assign(response.url);
          return null;
        }
        if (!response.ok) { say("refresh failed (" + response.status + ")"); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null || html === undefined) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        var here = document.getElementById("content");
        if (fresh && here) { here.replaceChildren.apply(here, Array.from(fresh.childNodes)); }
        say("");
      })
      .catch(function () { say("offline: retrying"); });
  }
  window.setInterval(tick, seconds * 1000);
}());
