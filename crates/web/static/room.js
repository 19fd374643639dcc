// An event's waiting room, live. Without this script the page shows the place as of its
// loading and a "Check my place" link. With it, the room's event stream keeps the place,
// the tab title and the panels up to date:
// * room-state: "You are #412 — 411 ahead of you", the wait range, the chance with its
//   numbers, the title; a polite announcement when the place has moved by a tenth, and
//   for each of the last 3 places;
// * room-admitted: the page is fetched once more in the background, which hands the
//   browser its admission (a cookie the buying pages send), then the "It's your turn"
//   panel is shown and focused;
// * room-sold-out: the "Sold out" panel.
// On a dropped stream a banner says "Reconnecting… your place is kept" while the browser
// reconnects (an open stream keeps the place alive, as the page's loads do).
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-room]");
    if (!root || !root.hasAttribute("data-joined") || !window.EventSource) { return; }
    var event = root.getAttribute("data-event");
    var baseTitle = document.title;
    var finished = false;
    var lastAnnounced = null;
    var source = null;

    function find(selector) { return root.querySelector(selector); }
    var waiting = find("[data-waiting]");
    var positionText = find("[data-position-text]");
    var wait = find("[data-wait]");
    var chance = find("[data-chance]");
    var asOf = find("[data-as-of]");
    var status = find("[data-room-status]");
    var banner = find("[data-reconnect]");
    var admitted = find("[data-admitted]");
    var admittedWords = find("[data-admitted-words]");
    var soldOut = find("[data-sold-out]");
    var logHead = find("[data-log-head]");
    var leave = find("[data-leave]");

    function positionWords(data) {
      if (data.state === "prequeue") { return "You are in. Your place is drawn when the sale opens."; }
      if (data.position == null) { return ""; }
      if (data.ahead === 0) { return "You are #" + data.position + ": next in"; }
      return "You are #" + data.position + " — " + data.ahead + " ahead of you";
    }

    // The same words as the server's page.
    function waitWords(range) {
      if (!range || range.lowSeconds == null) { return ""; }
      var low = range.lowSeconds;
      var high = range.highSeconds;
      if (high == null) {
        return low < 60 ? "Estimated wait: not known yet (at least a few seconds)"
          : "Estimated wait: at least " + Math.ceil(low / 60) + " minutes";
      }
      if (high === 0) { return ""; }
      if (high < 60) { return "Estimated wait: under a minute"; }
      var lowMinutes = Math.floor(low / 60);
      var highMinutes = Math.ceil(high / 60);
      if (lowMinutes === 0) { return "Estimated wait: under a minute to about " + highMinutes + " minutes"; }
      return "Estimated wait: about " + lowMinutes + "–" + highMinutes + " minutes";
    }

    function chanceWords(data) {
      var tickets = data.ticketsLeft === 1 ? " ticket" : " tickets";
      var people = data.ahead === 1 ? " person" : " people";
      var numbers = data.ahead == null ? data.ticketsLeft + tickets + " on sale"
        : data.ticketsLeft + tickets + " left for " + data.ahead + people + " ahead of you";
      switch (data.chance) {
        case "likely": return "Chance of a ticket: likely (" + numbers + ")";
        case "even": return "Chance of a ticket: about even (" + numbers + ")";
        case "unlikely": return "Chance of a ticket: unlikely (" + numbers + ")";
        case "sold_out": return "Sold out";
        default: return numbers;
      }
    }

    function stop() {
      finished = true;
      if (source) { source.close(); }
      if (banner) { banner.hidden = true; }
    }

    function show(panel) {
      [waiting, admitted, soldOut].forEach(function (each) {
        if (each) { each.hidden = each !== panel; }
      });
      if (panel === soldOut && leave) { leave.hidden = true; }
      if (panel) { panel.focus(); }
    }

    function update(data) {
      if (positionText) { positionText.textContent = positionWords(data); }
      if (wait) {
        var words = waitWords(data.estimatedWait);
        wait.textContent = words;
        wait.hidden = !words;
      }
      if (chance) { chance.textContent = chanceWords(data); }
      if (asOf) { asOf.textContent = "Updated live."; }
      if (logHead && data.logHead) { logHead.textContent = data.logHead.hash; }
      if (data.position != null) {
        document.title = "#" + data.position + " – " + baseTitle;
        var moved = lastAnnounced === null ? false
          : lastAnnounced - data.position >= Math.max(1, Math.floor(lastAnnounced / 10));
        if (lastAnnounced === null || moved || (data.position <= 3 && data.position !== lastAnnounced)) {
          if (lastAnnounced !== null && status) { status.textContent = positionWords(data) + "."; }
          lastAnnounced = data.position;
        }
      }
    }

    // The admission comes as a cookie with the page: fetch it once more, then let the
    // buyer in.
    function letIn(data) {
      fetch(window.location.pathname, { credentials: "same-origin" })
        .catch(function () { return null; })
        .then(function () {
          if (admittedWords && data && data.expiresAt) {
            var end = new Date(Date.parse(data.expiresAt));
            if (!isNaN(end)) { admittedWords.textContent = ", until " + end.toISOString().slice(11, 19) + " UTC"; }
          }
          stop();
          show(admitted);
          document.title = "It's your turn – " + baseTitle;
          if (status) { status.textContent = "It's your turn: you may buy your tickets now."; }
        });
    }

    function read(message) {
      try { return JSON.parse(message.data); } catch (err) { return null; }
    }

    function connect() {
      source = new EventSource("/api/events/" + encodeURIComponent(event) + "/room/events");
      source.addEventListener("open", function () {
        if (banner) { banner.hidden = true; }
      });
      source.addEventListener("room-state", function (message) {
        if (banner) { banner.hidden = true; }
        var data = read(message);
        if (data) { update(data); }
      });
      source.addEventListener("room-admitted", function (message) {
        letIn(read(message));
      });
      source.addEventListener("room-sold-out", function () {
        stop();
        show(soldOut);
        document.title = "Sold out – " + baseTitle;
      });
      source.addEventListener("error", function () {
        if (finished) { return; }
        if (banner) { banner.hidden = false; }
      });
    }

    if (admitted && !admitted.hidden) { return; }
    if (soldOut && !soldOut.hidden) { return; }
    connect();
  });
})();
