// A stand-in for Stripe in the browser, for the checks of the checkout in Stripe mode.
//
// The server under test talks to localstripe (a stateful fake of Stripe's API, PyPI) as
// its Stripe. In the page, Stripe.js is replaced by the small script below, served by
// Playwright at the address the server was given (STRIPE_JS_URL): a labelled card field,
// `createPaymentMethod` and `handleNextAction` with Stripe.js's call shapes. Its calls to
// "Stripe" (https://api.stripe.test) are answered by this process, which forwards them to
// localstripe with the secret key — localstripe only takes the publishable key on a few
// routes, where Stripe takes it on these too. The bank's 3-D Secure check is a dialog with
// "Complete authentication" / "Fail authentication", as Stripe's test page has.
import { createHmac } from 'node:crypto';
import type { Page } from '@playwright/test';

export const STRIPE_JS_URL = 'https://js.stripe.test/v3/';
const API = 'https://api.stripe.test';
export const STRIPE_SECRET_KEY = 'sk_test_boxoffice';
export const STRIPE_WEBHOOK_SECRET = 'whsec_boxoffice_ui_tests';

const SCRIPT = `
(function () {
  var API = ${JSON.stringify(API)};
  function post(path, fields) {
    var body = Object.keys(fields).map(function (k) {
      return encodeURIComponent(k) + "=" + encodeURIComponent(fields[k]);
    }).join("&");
    return fetch(API + path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body
    }).then(function (res) { return res.json(); });
  }
  function field(parent, name, label, size) {
    var input = document.createElement("input");
    input.type = "text";
    // Unnamed, so never part of the page's form: Stripe's real field is an iframe.
    input.setAttribute("aria-label", label);
    input.setAttribute("autocomplete", "off");
    input.size = size;
    parent.appendChild(input);
    return input;
  }
  function bank() {
    return new Promise(function (resolve) {
      var dialog = document.createElement("dialog");
      dialog.setAttribute("aria-label", "Your bank");
      var text = document.createElement("p");
      text.textContent = "Test bank: confirm this payment?";
      dialog.appendChild(text);
      [["Complete authentication", true], ["Fail authentication", false]].forEach(function (choice) {
        var button = document.createElement("button");
        button.type = "button";
        button.textContent = choice[0];
        button.addEventListener("click", function () { dialog.close(); dialog.remove(); resolve(choice[1]); });
        dialog.appendChild(button);
      });
      document.body.appendChild(dialog);
      dialog.showModal();
    });
  }
  window.Stripe = function (key) {
    if (!/^pk_/.test(key)) { throw new Error("Stripe() needs a publishable key"); }
    return {
      elements: function () {
        return {
          create: function () {
            var inputs = {};
            return {
              _inputs: inputs,
              mount: function (element) {
                inputs.number = field(element, "number", "Card number", 19);
                inputs.expiry = field(element, "expiry", "Expiry date MM/YY", 5);
                inputs.cvc = field(element, "cvc", "Security code", 4);
              }
            };
          }
        };
      },
      createPaymentMethod: function (options) {
        var inputs = options.card._inputs;
        var expiry = inputs.expiry.value.split("/");
        return post("/v1/payment_methods", {
          type: "card",
          "card[number]": inputs.number.value.replace(/\\s/g, ""),
          "card[exp_month]": expiry[0] || "",
          "card[exp_year]": "20" + (expiry[1] || ""),
          "card[cvc]": inputs.cvc.value
        }).then(function (json) {
          return json.error ? { error: json.error } : { paymentMethod: json };
        });
      },
      handleNextAction: function (options) {
        var secret = options.clientSecret;
        var intent = secret.split("_secret_")[0];
        return bank().then(function (success) {
          return post("/v1/payment_intents/" + intent + "/_authenticate",
                      { client_secret: secret, success: String(success) })
            .then(function (json) {
              if (json.error) { return { error: json.error }; }
              return success ? { paymentIntent: json }
                             : { error: { message: "We are unable to authenticate your payment method." } };
            });
        });
      }
    };
  };
})();
`;

/** Serves the Stripe.js stand-in to `page` and answers its calls through localstripe. */
export async function useStripeDouble(page: Page): Promise<void> {
  const localstripe = process.env.LOCALSTRIPE_URL;
  if (!localstripe) throw new Error('LOCALSTRIPE_URL is set by global-setup.ts or ../scripts/ui-tests');
  await page.route(STRIPE_JS_URL, (route) =>
    route.fulfill({ status: 200, contentType: 'text/javascript', body: SCRIPT }),
  );
  await page.route(`${API}/**`, async (route) => {
    const request = route.request();
    const path = new URL(request.url()).pathname;
    const answer = await fetch(`${localstripe}${path}`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${STRIPE_SECRET_KEY}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: request.postData() ?? '',
    });
    await route.fulfill({
      status: answer.status,
      contentType: 'application/json',
      headers: { 'access-control-allow-origin': '*' },
      body: await answer.text(),
    });
  });
}

/** Delivers a Stripe-signed webhook about `intent` to the server, as Stripe would. */
export async function stripeWebhook(baseURL: string, type: string, intent: string, status: string): Promise<void> {
  const body = JSON.stringify({
    id: `evt_${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`,
    type,
    data: { object: { id: intent, status } },
  });
  const at = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', STRIPE_WEBHOOK_SECRET).update(`${at}.${body}`).digest('hex');
  const res = await fetch(`${baseURL}/api/payments/webhook`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': `t=${at},v1=${signature}` },
    body,
  });
  if (res.status !== 200) throw new Error(`webhook ${type}: ${res.status} ${await res.text()}`);
}
