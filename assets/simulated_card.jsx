// The simulated gateway's card entry, shaped like Stripe Elements (wrapped in
// portal_app/components/simulated_card.py). The form posts the card from the browser to the
// simulated gateway's tokenizer and hands Reflex only the pm_ id it answers: card numbers never
// travel in Reflex events or state. The card inputs have no `name`, so no form serialisation sees them.
import { createContext, useContext, useEffect, useRef, useState } from "react";
import { Flex, Text, TextField } from "@radix-ui/themes";

const CardFieldsContext = createContext(null);

// "12/30", "1230", "12 / 2030", "130" -> ["12", "30"]; the tokenizer checks the values.
function splitExpiry(text) {
  const value = (text || "").trim();
  if (value.includes("/")) {
    const [month, year] = value.split("/");
    return [month.trim(), (year || "").trim()];
  }
  const digits = value.replace(/[\s-]/g, "");
  if (digits.length === 3) return [digits.slice(0, 1), digits.slice(1)];
  return [digits.slice(0, 2), digits.slice(2)];
}

// A form whose submit first tokenizes the card of the SimulatedCardFields inside it, then calls
// onSubmit with the other named fields plus payment_method (the pm_ id). Refusals call onCardError
// with Stripe's code and param only.
export function SimulatedCardForm({ endpoint, label, onSubmit, onCardError, children }) {
  const cardFields = useRef(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event) => {
    event.preventDefault();
    if (busy) return;
    const data = Object.fromEntries(new FormData(event.currentTarget).entries());
    const card = cardFields.current ? cardFields.current() : null;
    if (!card) {
      if (onSubmit) onSubmit(data);
      return;
    }
    setBusy(true);
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ card }),
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok && answer && typeof answer.id === "string") {
        if (onSubmit) onSubmit({ ...data, payment_method: answer.id });
      } else {
        const error = (answer && answer.error) || {};
        const code = response.status === 429 ? "rate_limit" : String(error.code || "processing_error");
        if (onCardError) onCardError({ code, param: String(error.param || ""), decline_code: String(error.decline_code || "") });
      }
    } catch (_unreachable) {
      if (onCardError) onCardError({ code: "processing_error", param: "" });
    } finally {
      setBusy(false);
    }
  };

  return (
    <CardFieldsContext.Provider value={cardFields}>
      <form onSubmit={submit} aria-label={label} aria-busy={busy} style={{ width: "100%" }} noValidate={false}>
        {children}
      </form>
    </CardFieldsContext.Provider>
  );
}

// The card's brand from its first digits, as it is typed (display only: the tokenizer decides).
const BRANDS = [
  ["American Express", /^3[47]/],
  ["Visa", /^4/],
  ["Mastercard", /^(5[1-5]|2(2[2-9]|[3-6]\d|7[01]|720))/],
  ["Discover", /^6(011|5)/],
];
export function cardBrand(digits) {
  const found = BRANDS.find(([, pattern]) => pattern.test(digits));
  return found ? found[0] : "";
}

// "4242424242424242" -> "4242 4242 4242 4242"; American Express 4-6-5.
export function formatCardNumber(text) {
  const digits = (text || "").replace(/\D/g, "").slice(0, 19);
  const groups = cardBrand(digits) === "American Express" ? [4, 6, 5] : [4, 4, 4, 4, 3];
  const parts = [];
  let at = 0;
  for (const size of groups) {
    if (at >= digits.length) break;
    parts.push(digits.slice(at, at + size));
    at += size;
  }
  return parts.join(" ");
}

function CardInput({ id, label, error, inputRef, children, describedBy, ...input }) {
  return (
    <Flex direction="column" gap="1" width="100%">
      <label htmlFor={id} style={{ fontWeight: 500, fontSize: "14px", whiteSpace: "nowrap" }}>{label}</label>
      <TextField.Root
        id={id}
        ref={inputRef}
        size="3"
        required
        inputMode="numeric"
        aria-invalid={error ? "true" : "false"}
        aria-describedby={[describedBy, `${id}-error`].filter(Boolean).join(" ")}
        {...input}
      >
        {children}
      </TextField.Root>
      {error ? <Text id={`${id}-error`} color="red" size="2" role="alert">{error}</Text> : null}
    </Flex>
  );
}

// The number field: grouped by four as typed, with the detected brand beside it. The number lives
// in this component's React state only (never a Reflex var or event).
function CardNumberInput({ label, error, inputRef, placeholder }) {
  const [value, setValue] = useState("");
  const brand = cardBrand(value.replace(/\D/g, ""));
  return (
    <CardInput id="card-number" label={label} error={error} inputRef={inputRef} autoComplete="cc-number"
               placeholder={placeholder || "1234 1234 1234 1234"} maxLength={23} value={value}
               onChange={(event) => setValue(formatCardNumber(event.target.value))}
               describedBy="card-number-brand">
      <TextField.Slot side="right">
        <Text id="card-number-brand" size="2" weight="medium" color="gray" data-testid="card-brand"
              aria-live="polite" style={{ whiteSpace: "nowrap" }}>{brand}</Text>
      </TextField.Slot>
    </CardInput>
  );
}

// Card number, expiry and CVC (labels and inline errors come from the page, in its language).
export function SimulatedCardFields({
  numberLabel, expiryLabel, cvcLabel, numberError, expiryError, cvcError,
  numberPlaceholder, expiryPlaceholder, cvcPlaceholder,
}) {
  const cardFields = useContext(CardFieldsContext);
  const number = useRef(null);
  const expiry = useRef(null);
  const cvc = useRef(null);
  // Unmounted fields (a closed form) leave no card reader behind.
  useEffect(() => () => { if (cardFields) cardFields.current = null; }, [cardFields]);
  if (cardFields) {
    cardFields.current = () => {
      const [exp_month, exp_year] = splitExpiry(expiry.current ? expiry.current.value : "");
      return {
        number: number.current ? number.current.value : "",
        exp_month,
        exp_year,
        cvc: cvc.current ? cvc.current.value : "",
      };
    };
  }
  return (
    <Flex direction="column" gap="3" width="100%" data-testid="simulated-card-fields">
      <CardNumberInput label={numberLabel} error={numberError} inputRef={number} placeholder={numberPlaceholder} />
      <Flex gap="3" width="100%" wrap="wrap">
        <div style={{ flex: "1", minWidth: "160px" }}>
          <CardInput id="card-expiry" label={expiryLabel} error={expiryError} inputRef={expiry}
                     autoComplete="cc-exp" placeholder={expiryPlaceholder || "MM/YY"} maxLength={7} inputMode="text" />
        </div>
        <div style={{ flex: "1", minWidth: "160px" }}>
          <CardInput id="card-cvc" label={cvcLabel} error={cvcError} inputRef={cvc}
                     autoComplete="cc-csc" placeholder={cvcPlaceholder || "123"} maxLength={4} />
        </div>
      </Flex>
    </Flex>
  );
}
