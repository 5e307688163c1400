// The call form (only for roles that may send): one request to the device
// through the relay's request path. The relay sends it as plaintext (it
// cannot encrypt end to end on the operator's behalf), so a device that
// accepts only end-to-end encrypted requests refuses it, and that refusal
// is shown as it comes.
import { api } from "./api.js";
import { h } from "./dom.js";

export function callForm(deviceId) {
  const method = h("input", {
    id: "call-method",
    required: true,
    value: "echo",
    autocomplete: "off",
  });
  const payload = h("textarea", {
    id: "call-payload",
    rows: 4,
    spellcheck: "false",
  });
  const encoding = h(
    "select",
    { id: "call-encoding" },
    h("option", { value: "utf8" }, "UTF-8 text"),
    h("option", { value: "base64" }, "base64"),
  );
  const timeout = h("input", {
    id: "call-timeout",
    type: "number",
    min: 1,
    value: 10000,
  });
  const submit = h("button", { id: "call-submit", type: "submit" }, "Call");
  const result = h("div", {
    id: "call-result",
    class: "call-result",
    "aria-live": "polite",
  });
  const form = h(
    "form",
    { id: "call-form", class: "card", "data-device-id": deviceId },
    h("h2", {}, "Call a method"),
    h(
      "p",
      { class: "muted" },
      "Sent through the relay in plaintext: devices that accept only end-to-end encrypted requests (the SDK default) refuse it. Use relay ctl call for E2E.",
    ),
    h(
      "div",
      { class: "form-row" },
      h("label", {}, "Method", method),
      h("label", {}, "Payload as", encoding),
      h("label", {}, "Deadline (ms)", timeout),
    ),
    h("label", {}, "Payload", payload),
    h("div", { class: "form-row" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    result.replaceChildren(h("span", { class: "muted" }, "Calling…"));
    try {
      const answer = await api("call", {
        method: "POST",
        body: {
          device_id: deviceId,
          method: method.value,
          payload: payload.value,
          encoding: encoding.value,
          timeout_ms: Number(timeout.value) || 0,
        },
      });
      result.replaceChildren(...describe(answer));
    } catch (error) {
      result.replaceChildren(
        h("span", { class: "badge bad", id: "call-code" }, "NETWORK"),
        ` ${error.message}`,
      );
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function describe(answer) {
  const ok = answer.code === "OK";
  const parts = [
    h(
      "span",
      { class: `badge ${ok ? "good" : "bad"}`, id: "call-code" },
      answer.code,
    ),
    answer.elapsed_ms !== undefined
      ? h(
        "span",
        { class: "muted" },
        ` in ${answer.elapsed_ms} ms (HTTP ${answer.status})`,
      )
      : h("span", { class: "muted" }, ` (HTTP ${answer.status})`),
  ];
  if (answer.message) {
    parts.push(
      h("p", { class: ok ? "" : "error", id: "call-message" }, answer.message),
    );
  }
  if (ok) {
    const text = answer.payload_text;
    parts.push(
      h("pre", { id: "call-answer" }, text ?? answer.payload_base64),
      h(
        "p",
        { class: "muted" },
        text === null
          ? "binary answer, shown as base64"
          : "answer as UTF-8 text",
      ),
    );
  }
  return parts;
}
