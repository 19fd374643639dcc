// The line for a held ticket, live (UI.md page 11). Without this script the page shows
// the place as of its loading and a "Check my position" link. With it, the API's event
// stream keeps the place, the tab title and the turn panel up to date:
// * queue-update: "You are #3 of 9", the wait, the title; a polite announcement at most
//   every 5 places, and always for the last 3;
// * queue-turn: the "It's your turn" panel, focused, with its own countdown (the
//   server's clock, as on the checkout);
// * ticket-unavailable: "This ticket was sold".
// On a dropped stream a banner says "Reconnecting… your place is kept" while the browser
// reconnects; a stream that ended for good is looked up again to say why.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    var root = document.querySelector("[data-queue]");
    if (!root || !root.hasAttribute("data-position") || !window.EventSource) { return; }
    var ticket = root.getAttribute("data-ticket");
    var skew = Date.parse(root.getAttribute("data-now")) - Date.now();
    if (isNaN(skew)) { skew = 0; }
    var baseTitle = document.title;
    var position = Number(root.getAttribute("data-position"));
    var total = Number(root.getAttribute("data-total"));
    var lastAnnounced = position;
    var turnTimer = null;
    var finished = false;
    var source = null;

    function find(selector) { return root.querySelector(selector); }
    var waiting = find("[data-waiting]");
    var positionText = find("[data-position-text]");
    var wait = find("[data-wait]");
    var asOf = find("[data-as-of]");
    var status = find("[data-queue-status]");
    var banner = find("[data-reconnect]");
    var turn = find("[data-turn]");
    var turnUntil = find("[data-turn-until]");
    var turnWrap = find("[data-turn-timer-wrap]");
    var turnTimerText = find("[data-turn-timer]");
    var turnEnded = find("[data-turn-ended]");
    var sold = find("[data-sold]");
    var gone = find("[data-gone]");
    var leave = find("[data-leave]");

    function placeWords() { return "You are #" + position + " of " + total; }

    function title() {
      if (turn && !turn.hidden) {
        document.title = "It's your turn – " + baseTitle;
      } else {
        document.title = "#" + position + " of " + total + " – " + baseTitle;
      }
    }

    // The wait as a range (the same words as the server's page): from the rest of the
    // current hold or turn to one full turn per buyer ahead.
    function waitWords(low, high) {
      if (!high) { return ""; }
      if (high < 60) { return "Estimated wait: under a minute"; }
      var lowMinutes = Math.ceil(Math.min(low || 0, high) / 60);
      var highMinutes = Math.ceil(high / 60);
      var unit = function (minutes) { return minutes + (minutes === 1 ? " minute" : " minutes"); };
      if (lowMinutes === highMinutes) { return "Estimated wait: about " + unit(highMinutes); }
      if (lowMinutes === 0) { return "Estimated wait: under a minute to about " + unit(highMinutes); }
      return "Estimated wait: about " + lowMinutes + "–" + highMinutes + " minutes";
    }

    function showOnly(panel) {
      [waiting, turn, turnEnded, sold, gone].forEach(function (each) {
        if (each) { each.hidden = each !== panel; }
      });
      if (panel !== turn && leave) { leave.hidden = true; }
      if (panel) { panel.focus(); }
    }

    function stop() {
      finished = true;
      if (source) { source.close(); }
      if (banner) { banner.hidden = true; }
      if (turnTimer !== null) { clearInterval(turnTimer); turnTimer = null; }
    }

    function update(data) {
      var moved = data.position !== position || data.totalInQueue !== total;
      position = data.position;
      total = data.totalInQueue;
      if (positionText) { positionText.textContent = placeWords(); }
      if (wait) {
        var words = waitWords(data.earliestWaitSeconds, data.estimatedWaitSeconds);
        wait.textContent = words;
        wait.hidden = !words;
      }
      if (asOf) { asOf.textContent = "Updated live."; }
      // Announce at most every 5 places, and always for the last 3.
      if (moved && position !== lastAnnounced && (position <= 3 || lastAnnounced - position >= 5)) {
        lastAnnounced = position;
        if (status) { status.textContent = placeWords() + "."; }
      }
      if (data.turnExpiresAt) { startTurn(data.turnExpiresAt); }
      title();
    }

    function startTurn(expiresAt) {
      if (!turn) { return; }
      var end = Date.parse(expiresAt);
      if (isNaN(end)) { return; }
      if (turn.getAttribute("data-turn-expires-at") === expiresAt && !turn.hidden && turnTimer !== null) { return; }
      turn.setAttribute("data-turn-expires-at", expiresAt);
      if (turnUntil) { turnUntil.textContent = ", until " + new Date(end).toISOString().slice(11, 19) + " UTC"; }
      var wasHidden = turn.hidden;
      if (waiting) { waiting.hidden = true; }
      turn.hidden = false;
      if (wasHidden) { turn.focus(); }
      title();
      if (turnTimer !== null) { clearInterval(turnTimer); }
      function tick() {
        var left = Math.max(0, Math.ceil((end - (Date.now() + skew)) / 1000));
        var minutes = Math.floor(left / 60);
        var seconds = left % 60;
        if (turnTimerText) {
          turnTimerText.textContent = (minutes < 10 ? "0" : "") + minutes + ":" + (seconds < 10 ? "0" : "") + seconds;
        }
        if (left <= 0) {
          stop();
          showOnly(turnEnded);
          document.title = "Your turn ended – " + baseTitle;
        }
      }
      if (turnWrap) { turnWrap.hidden = false; }
      tick();
      turnTimer = setInterval(tick, 1000);
    }

    function read(event) {
      try { return JSON.parse(event.data); } catch (err) { return null; }
    }

    // The stream ended for good (left, ordered, turn over, or refused): ask why.
    function recheck() {
      if (finished) { return; }
      fetch("/api/queue/" + encodeURIComponent(ticket), { credentials: "same-origin" })
        .then(function (response) {
          if (finished) { return; }
          if (response.ok) {
            return response.json().then(function (data) {
              update(data);
              connect();
            });
          }
          if (response.status === 404) {
            stop();
            showOnly(turn && !turn.hidden ? turnEnded : gone);
            return;
          }
          setTimeout(recheck, 5000);
        })
        .catch(function () { setTimeout(recheck, 5000); });
    }

    function connect() {
      source = new EventSource("/api/queue/" + encodeURIComponent(ticket) + "/events");
      source.addEventListener("open", function () {
        if (banner) { banner.hidden = true; }
      });
      source.addEventListener("queue-update", function (event) {
        if (banner) { banner.hidden = true; }
        var data = read(event);
        if (data) { update(data); }
      });
      source.addEventListener("queue-turn", function (event) {
        var data = read(event);
        if (data && data.turnExpiresAt) { startTurn(data.turnExpiresAt); }
      });
      source.addEventListener("ticket-unavailable", function () {
        stop();
        showOnly(sold);
        document.title = "Sold – " + baseTitle;
      });
      source.addEventListener("error", function () {
        if (finished) { return; }
        if (banner) { banner.hidden = false; }
        if (source.readyState === EventSource.CLOSED) {
          setTimeout(recheck, 2000);
        }
      });
    }

    title();
    var initialTurn = turn && !turn.hidden ? turn.getAttribute("data-turn-expires-at") : "";
    if (initialTurn) {
      turn.hidden = true;
      startTurn(initialTurn);
    }
    connect();
  });
})();
