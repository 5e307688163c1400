// The one error type of the browser client: a relay.v1 ErrorCode name
// (e.g. "UNAUTHORIZED") and a message, for the relay's, the device's and the
// client's own refusals (end-to-end checks included).

/** An error with the relay's code (relay.v1 ErrorCode name, e.g. "UNAUTHORIZED"). */
export class RelayClientError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ cause?: unknown }} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.name = "RelayClientError";
    this.code = code;
  }
}
