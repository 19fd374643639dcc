// The checkout's pay form with Stripe (UI.md page 7, Stripe mode). Stripe.js is loaded
// from Stripe (the address is in the form's data-stripe-js) and puts its own card field in
// the page; on Pay it turns the card into a PaymentMethod (`pm_…`) at Stripe, puts that id
// in the form and sends the form as usual — so the server pays with the id, never a card
// number. Until Stripe.js is ready the Pay button stays disabled and the page says card
// payments need JavaScript. A refusal from Stripe (an invalid number, say) is shown beside
// the field and the form can be used again.
//
// On the 3-D Secure page (UI.md page 8) it hands the payment's client secret to
// `stripe.handleNextAction`, which runs the bank's check, then goes back to the order's
// page: "Payment in progress" until Stripe's webhook settles the payment, or "Authentication
// failed" with the hold still counting. Whatever the browser reports, the server decides.
(function () {
  "use strict";

  function loadStripe(url, onload, onerror) {
    var script = document.createElement("script");
    script.src = url;
    script.onload = function () {
      if (typeof window.Stripe === "function") { onload(); } else { onerror(); }
    };
    script.onerror = onerror;
    document.head.appendChild(script);
  }

  function authenticate(panel) {
    var status = panel.querySelector("[data-stripe-action-status]");
    var order = "/orders/" + encodeURIComponent(panel.getAttribute("data-order"));
    function failed(words) { status.textContent = words; }
    loadStripe(panel.getAttribute("data-stripe-js"), function () {
      var stripe = window.Stripe(panel.getAttribute("data-stripe-key"));
      var secret = panel.getAttribute("data-client-secret");
      status.textContent = "Opening your bank's check…";
      // Stripe.js of an older version names the step confirmCardPayment.
      var step = typeof stripe.handleNextAction === "function"
        ? stripe.handleNextAction({ clientSecret: secret })
        : stripe.confirmCardPayment(secret);
      step.then(function (result) {
        var done = result && result.error ? "auth_failed" : "processing";
        window.location.assign(order + "?done=" + done);
      }, function () {
        failed("Your bank's check could not be opened. Go back to your order to try again.");
      });
    }, function () {
      failed("Your bank's check could not be loaded from Stripe. Reload the page to try again.");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.querySelector("[data-stripe-action]");
    if (panel) { authenticate(panel); }
    var form = document.querySelector("form[data-stripe-pay]");
    if (!form) { return; }
    var mount = form.querySelector("[data-stripe-card]");
    var tokenField = form.querySelector("[data-stripe-token]");
    var submit = form.querySelector("[data-stripe-submit]");
    var needsScript = form.querySelector("[data-stripe-needs-script]");
    var errorLine = form.querySelector("[data-stripe-error]");
    var stripe = null;
    var card = null;

    function showError(words) {
      errorLine.textContent = words;
      errorLine.hidden = false;
      mount.setAttribute("aria-describedby", errorLine.id);
      submit.disabled = false;
      submit.removeAttribute("aria-disabled");
      var idle = submit.getAttribute("data-idle");
      if (idle) { submit.textContent = idle; }
      mount.focus();
    }

    function ready() {
      stripe = window.Stripe(form.getAttribute("data-stripe-key"));
      card = stripe.elements().create("card");
      card.mount(mount);
      needsScript.hidden = true;
      submit.disabled = false;
    }

    form.addEventListener("submit", function (event) {
      // The form goes to the server only with a PaymentMethod id in it.
      if (tokenField.value) { return; }
      event.preventDefault();
      if (!stripe || !card) { return; }
      errorLine.hidden = true;
      stripe.createPaymentMethod({ type: "card", card: card }).then(function (result) {
        if (result && result.paymentMethod) {
          tokenField.value = result.paymentMethod.id;
          form.submit();
        } else {
          var message = result && result.error && result.error.message;
          showError(message || "Your card could not be checked. Try again.");
        }
      }, function () {
        showError("Stripe could not be reached. Try again.");
      });
    });

    loadStripe(form.getAttribute("data-stripe-js"), ready, function () {
      needsScript.textContent = "The card field could not be loaded from Stripe. Reload the page to try again.";
    });
  });
})();
