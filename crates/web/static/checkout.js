// The checkout's hold countdown (UI.md §2). The server is the clock: the page carries
// the server's "now" and the order's "expiresAt", and says in words when the hold ends,
// which stays true without this script. The script only shows the time left as a silent
// MM:SS timer, announces 5 minutes and 1 minute left in a polite status region, and at
// zero disables Pay and moves focus to the "hold has ended" alert (role=alert, so the end
// is announced once, by it). Paying is checked
// on the server again whatever this shows.
(function () {
  "use strict";

  var MILESTONES = [
    { seconds: 300, words: "5 minutes left to pay." },
    { seconds: 60, words: "1 minute left to pay." }
  ];

  document.addEventListener("DOMContentLoaded", function () {
    var hold = document.querySelector("[data-hold]");
    if (!hold) { return; }
    var serverNow = Date.parse(hold.getAttribute("data-now"));
    var expiresAt = Date.parse(hold.getAttribute("data-expires-at"));
    if (isNaN(serverNow) || isNaN(expiresAt)) { return; }
    // How far the browser's clock is from the server's; only the server's counts.
    var skew = serverNow - Date.now();
    var wrap = hold.querySelector("[data-timer-wrap]");
    var timer = hold.querySelector("[data-timer]");
    var status = hold.querySelector("[data-hold-status]");
    var ended = document.querySelector("[data-hold-ended]");
    var payForm = document.querySelector("form[data-pay]");
    var announced = {};
    var interval = null;

    function left() {
      return Math.max(0, Math.ceil((expiresAt - (Date.now() + skew)) / 1000));
    }

    function mmss(seconds) {
      var minutes = Math.floor(seconds / 60);
      var rest = seconds % 60;
      return (minutes < 10 ? "0" : "") + minutes + ":" + (rest < 10 ? "0" : "") + rest;
    }

    function say(words) {
      if (status) { status.textContent = words; }
    }

    // Milestones already behind when the page loads are not announced.
    var first = left();
    MILESTONES.forEach(function (milestone) {
      if (first <= milestone.seconds) { announced[milestone.seconds] = true; }
    });

    function end() {
      if (interval !== null) { clearInterval(interval); }
      if (payForm) {
        payForm.querySelectorAll("button, input").forEach(function (control) {
          control.disabled = true;
        });
      }
      // No polite announcement here: the alert panel below says it, and takes focus.
      if (ended) {
        ended.hidden = false;
        ended.focus();
      }
    }

    function tick() {
      var seconds = left();
      if (timer) { timer.textContent = mmss(seconds); }
      MILESTONES.forEach(function (milestone) {
        if (seconds <= milestone.seconds && seconds > 0 && !announced[milestone.seconds]) {
          announced[milestone.seconds] = true;
          say(milestone.words);
        }
      });
      if (seconds <= 0) { end(); }
    }

    if (wrap) { wrap.hidden = false; }
    tick();
    if (left() > 0) { interval = setInterval(tick, 1000); }
  });
})();
