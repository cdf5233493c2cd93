// Stripe Elements for the portal (wrapped in portal_app/components/stripe_elements.py).
// Card data goes from Stripe's iframe to Stripe only: the server receives a seti_/pi_ id, never a number.
import { useState } from "react";
import { loadStripe } from "@stripe/stripe-js";
import { Elements, PaymentElement, useElements, useStripe } from "@stripe/react-stripe-js";

// One Stripe.js instance per key: loadStripe must not run again on every render.
const stripeByKey = new Map();
function stripeFor(publishableKey) {
  if (!stripeByKey.has(publishableKey)) stripeByKey.set(publishableKey, loadStripe(publishableKey));
  return stripeByKey.get(publishableKey);
}

// Our words for the cases Stripe leaves without a message, in the page's language (the `messages`
// prop: portal_app/i18n/card_form_text.py); the English here only shows if a key is missing.
const say = (messages, key, english) => (messages && messages[key]) || english;

const errorStyle = { color: "var(--red-11)", fontSize: "14px", margin: "8px 0 0" };
const buttonStyle = {
  minHeight: "44px", padding: "0 16px", marginTop: "12px", borderRadius: "var(--radius-3)", border: "none",
  background: "var(--accent-9)", color: "var(--accent-contrast)", fontSize: "16px", fontWeight: 500, cursor: "pointer",
};

function SetupForm({ submitLabel, messages, onSuccess, onError }) {
  const stripe = useStripe();
  const elements = useElements();
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");

  const fail = (text) => {
    setMessage(text);
    if (onError) onError(text);
  };

  const submit = async (event) => {
    event.preventDefault();
    if (!stripe || !elements || busy) return;
    setBusy(true);
    setMessage("");
    try {
      // Validates the fields, confirms the SetupIntent with Stripe and runs the bank's 3DS in Stripe's modal.
      const { error, setupIntent } = await stripe.confirmSetup({
        elements,
        redirect: "if_required",
        confirmParams: { return_url: window.location.href },
      });
      if (error) fail(error.message || say(messages, "stripe_not_saved", "Your card could not be saved."));
      else if (setupIntent && setupIntent.status === "succeeded") onSuccess(setupIntent.id);
      else if (setupIntent && setupIntent.status === "processing") fail(say(messages, "stripe_checking", "Your card is still being checked. Try again shortly."));
      else fail(say(messages, "stripe_not_completed", "Saving the card was not completed. Please enter your card again."));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form onSubmit={submit} data-testid="stripe-card-form">
      <PaymentElement options={{ layout: "tabs" }} />
      {message ? <p role="alert" style={errorStyle}>{message}</p> : null}
      <button type="submit" disabled={!stripe || busy} aria-busy={busy} style={buttonStyle}>
        {submitLabel || "Save card"}
      </button>
    </form>
  );
}

// Elements provider bound to one SetupIntent; a new client secret remounts it (its options are fixed at mount).
export function StripeCardSetup({ publishableKey, clientSecret, locale, submitLabel, messages, onSuccess, onError }) {
  if (!publishableKey || !clientSecret) return null;
  return (
    <Elements
      key={clientSecret}
      stripe={stripeFor(publishableKey)}
      options={{ clientSecret, locale: locale || "auto", appearance: { theme: "stripe" } }}
    >
      <SetupForm submitLabel={submitLabel} messages={messages} onSuccess={onSuccess} onError={onError} />
    </Elements>
  );
}

// 3DS for an off-session charge the bank wants the customer to approve: the PaymentIntent's own
// next action when it has one, otherwise an on-session confirmation with the card it was charged with.
export function StripePaymentAuthentication({ publishableKey, clientSecret, paymentMethod, label, messages, onSuccess, onError }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState("");
  if (!publishableKey || !clientSecret) return null;

  const fail = (text) => {
    setMessage(text);
    if (onError) onError(text);
  };

  const authenticate = async () => {
    if (busy) return;
    setBusy(true);
    setMessage("");
    try {
      const stripe = await stripeFor(publishableKey);
      const { paymentIntent, error: readError } = await stripe.retrievePaymentIntent(clientSecret);
      if (readError) return fail(readError.message || say(messages, "stripe_load_failed", "The payment could not be loaded."));
      let result;
      if (paymentIntent.status === "succeeded") result = { paymentIntent };
      else if (paymentIntent.status === "requires_action") result = await stripe.handleNextAction({ clientSecret });
      else result = await stripe.confirmCardPayment(clientSecret, paymentMethod ? { payment_method: paymentMethod } : {});
      if (result.error) fail(result.error.message || say(messages, "stripe_not_approved", "Your bank did not approve the payment."));
      else if (result.paymentIntent && result.paymentIntent.status === "succeeded") onSuccess(result.paymentIntent.id);
      else fail(say(messages, "stripe_not_complete", "The payment is not complete yet. Please try again."));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div>
      <button type="button" onClick={authenticate} disabled={busy} aria-busy={busy} style={buttonStyle}
              data-testid="stripe-authenticate-payment">
        {label || "Confirm payment"}
      </button>
      {message ? <p role="alert" style={errorStyle}>{message}</p> : null}
    </div>
  );
}
