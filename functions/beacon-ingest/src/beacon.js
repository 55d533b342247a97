/*! Tidemark beacon. Include once per page:
 *
 *   <script>window.tidemark=window.tidemark||function(){(tidemark.q=tidemark.q||[]).push(arguments)};</script>
 *   <script async src="https://YOUR-HOST/v1/beacon.js" data-write-key="YOUR-WRITE-KEY" data-region="EU"></script>
 *
 * Then:  tidemark('purchase', {order_id: 'o-1001', amount: 59.90, currency: 'EUR'});
 * A page_view is sent on load unless the script tag says data-auto="false".
 * Events go with navigator.sendBeacon (survives page unload); where that is missing
 * or refused, the 1x1 pixel carries the same fields. Each event gets its event_id in
 * the browser, so a retried send can never count twice.
 * Page URLs and referrers are sent without query string and fragment, which often
 * carry personal data (emails, tokens); data-keep-query="true" keeps them.
 */
(function (w, d) {
  "use strict";
  var script = d.currentScript || d.querySelector("script[data-write-key]");
  if (!script) { return; }
  var origin = new URL(script.src, w.location.href).origin;
  var writeKey = script.getAttribute("data-write-key") || "";
  var region = script.getAttribute("data-region");
  var keepQuery = script.getAttribute("data-keep-query") === "true";

  /* The URL without ?query and #fragment, unless the page asked to keep them. */
  function page(address) {
    if (keepQuery || !address) { return address; }
    try {
      var u = new URL(address);
      return u.origin + u.pathname;
    } catch (e) {
      return String(address).split(/[?#]/)[0];
    }
  }

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) { return w.crypto.randomUUID(); }
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 0x3) | 0x8).toString(16);
    });
  }
  function stored(storage, name) {
    try {
      var value = storage.getItem(name);
      if (!value) { value = uuid(); storage.setItem(name, value); }
      return value;
    } catch (e) { return uuid(); }
  }
  var anonymousId = stored(w.localStorage, "tidemark_anonymous_id");
  var sessionId = stored(w.sessionStorage, "tidemark_session_id");

  function pixelUrl(event) {
    var query = ["wk=" + encodeURIComponent(writeKey), "cb=" + Date.now()];
    Object.keys(event).forEach(function (name) {
      var value = event[name];
      if (value === undefined || value === null) { return; }
      if (name === "keys" || name === "properties") {
        var prefix = name === "keys" ? "k." : "p.";
        Object.keys(value).forEach(function (inner) {
          query.push(encodeURIComponent(prefix + inner) + "=" + encodeURIComponent(String(value[inner])));
        });
        return;
      }
      query.push(encodeURIComponent(name) + "=" + encodeURIComponent(String(value)));
    });
    return origin + "/v1/p.gif?" + query.join("&");
  }

  function send(eventType, fields) {
    var event = {
      event_id: uuid(),
      event_type: eventType,
      occurred_at: new Date().toISOString(),
      anonymous_id: anonymousId,
      session_id: sessionId
    };
    if (region) { event.region = region; }
    fields = fields || {};
    Object.keys(fields).forEach(function (name) { event[name] = fields[name]; });
    if (eventType === "page_view") {
      event.properties = event.properties || {};
      event.properties.url = page(w.location.href);
      event.properties.title = d.title;
      if (d.referrer) { event.properties.referrer = page(d.referrer); }
    }
    var url = origin + "/v1/events?wk=" + encodeURIComponent(writeKey);
    var body = JSON.stringify([event]);
    // text/plain keeps sendBeacon a "simple" request: no CORS preflight.
    if (w.navigator.sendBeacon && w.navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) {
      return event.event_id;
    }
    new Image().src = pixelUrl(event);
    return event.event_id;
  }

  var queued = (w.tidemark && w.tidemark.q) || [];
  w.tidemark = function (eventType, fields) { return send(eventType, fields); };
  for (var i = 0; i < queued.length; i++) { send(queued[i][0], queued[i][1]); }
  if (script.getAttribute("data-auto") !== "false") { send("page_view"); }
})(window, document);
