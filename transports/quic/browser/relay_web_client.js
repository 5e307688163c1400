// Browser controller client for the relay over WebTransport (HTTP/3).
//
// The same protocol as the Deno QUIC client (transports/quic/quic_connectors.ts):
// every bidirectional stream starts with a StreamOpen frame {kind,
// authorization: "Bearer <jwt>"}; frames are a 4-byte big-endian length and
// protobuf bytes. Messages are encoded with protobufjs from relay.proto,
// parsed at run time (no hand-written protobuf), through the codec table of
// ./relay_wire.js, the one the relay itself uses. protobufjs is taken from
// the `protobuf` option, else the page's global `protobuf`, else loaded from
// ./protobuf.min.js next to this module.
//
//   const relay = await connectRelay({ url, certificateHash, token });
//   const devices = await relay.listDevices({ region: "eu" });
//   const session = relay.openSession("device-1");
//   const bytes = await session.call("echo", payload, { timeoutMs: 5000 });
//
// Requests are end-to-end encrypted (envelope version 2, docs/e2e.md) by
// ./e2e_controller.js: the device's key from ListOnlineDevices, pinned or
// trusted on first use; this page's own key authenticates its sessions.

import { FRAME_HEADER_BYTES, relayCodecs } from "./relay_wire.js";
import { RelayClientError } from "./relay_client_error.js";
import { ControllerE2e, isSessionRefusal } from "./e2e_controller.js";

export { RelayClientError };

const DEFAULT_MAX_FRAME_BYTES = 8 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;
/** Grace on top of the relay's deadline, so the relay's answer normally wins. */
const LOCAL_DEADLINE_GRACE_MS = 1000;

/**
 * Opens a WebTransport session to the relay.
 * @param {{
 *   url: string,
 *   token: string,
 *   certificateHash?: Uint8Array | ArrayBuffer | string | null,
 *   protobuf?: any,
 *   protoUrl?: string | URL,
 *   maxFrameBytes?: number,
 * } & import("./e2e_controller.js").E2eOptions} options `certificateHash`:
 *   SHA-256 of the server certificate (bytes or base64) for
 *   serverCertificateHashes; omit it for a publicly trusted one.
 *   End to end: `key` (this page's X25519 key pair, default a new
 *   non-extractable one), `pins` (device id -> "SHA256:..."), `knownKeys`
 *   (default localStorage), `trustOnFirstUse` (default true), `onFirstUse`,
 *   `controllerId` (default the token's `sub`), `plaintext` (allow plaintext
 *   to devices that cannot open envelope version 2; default false).
 */
export async function connectRelay(options) {
  // Bad pins or key fail here, before anything is opened.
  const e2e = new ControllerE2e(
    options,
    options.token,
    () => relay.listDevices(),
  );
  const [types, transport] = await Promise.all([
    loadTypes(options),
    openTransport(options),
  ]);
  const relay = new RelayConnection(transport, types, {
    token: options.token,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
    e2e,
  });
  return relay;
}

async function openTransport({ url, certificateHash }) {
  const init = {};
  if (certificateHash) {
    init.serverCertificateHashes = [{
      algorithm: "sha-256",
      value: toBytes(certificateHash),
    }];
  }
  let transport;
  try {
    transport = new WebTransport(url, init);
    await transport.ready;
  } catch (error) {
    throw new RelayClientError(
      "UNAVAILABLE",
      `cannot open a WebTransport session to ${url}: ${
        error?.message ?? error
      }`,
      { cause: error },
    );
  }
  return transport;
}

async function loadTypes(options) {
  const protobuf = options.protobuf ?? globalThis.protobuf ??
    await loadProtobufjs();
  const protoUrl = options.protoUrl ??
    new URL("./relay.proto", import.meta.url);
  const response = await fetch(protoUrl);
  if (!response.ok) {
    throw new RelayClientError(
      "UNAVAILABLE",
      `cannot load ${protoUrl}: HTTP ${response.status}`,
    );
  }
  const { root } = protobuf.parse(await response.text(), { keepCase: true });
  return relayCodecs(protobuf, root);
}

function loadProtobufjs() {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = new URL("./protobuf.min.js", import.meta.url).href;
    script.onload = () => resolve(globalThis.protobuf);
    script.onerror = () =>
      reject(new RelayClientError("UNAVAILABLE", "cannot load protobufjs"));
    document.head.append(script);
  });
}

class RelayConnection {
  #transport;
  #types;
  #options;
  #sessions = new Set();

  constructor(transport, types, options) {
    this.#transport = transport;
    this.#types = types;
    this.#options = options;
    /** Resolves when the WebTransport session ends (for whatever reason). */
    this.closed = transport.closed.then(() => undefined, () => undefined);
  }

  /**
   * ListOnlineDevices: the devices this token may see.
   * @param {{ region?: string, labels?: Record<string, string> }} [filter]
   */
  async listDevices(filter = {}) {
    const stream = await this.#openStream("LIST_ONLINE_DEVICES");
    try {
      await stream.send(this.#types.listRequest, {
        region_filter: filter.region ?? "",
        label_filter: filter.labels ?? {},
      });
      await stream.end();
      const frame = await stream.next();
      if (frame === undefined) {
        throw new RelayClientError(
          "UNAVAILABLE",
          "relay ended the stream without a reply",
        );
      }
      return frame.devices?.devices ?? [];
    } finally {
      stream.cancel();
    }
  }

  /**
   * This page's end-to-end key: `{ publicKey, fingerprint }` (a device's
   * --trusted-controllers file lists the fingerprint).
   * @returns {Promise<{ publicKey: Uint8Array, fingerprint: string }>}
   */
  async controllerKey() {
    const { publicKey, fingerprint } = await this.#options.e2e.controllerKey();
    return { publicKey, fingerprint };
  }

  /**
   * The key requests to `deviceId` are sealed to, once checked against the
   * pins or known keys: `{ fingerprint }`, `{ plaintext: true }` (allowed
   * for a device that cannot open version 2), or undefined when the relay
   * does not list the device. Throws RelayClientError for an untrusted key.
   * @param {string} deviceId
   */
  async deviceKey(deviceId) {
    const key = await this.#options.e2e.deviceKey(deviceId);
    if (key === undefined) return undefined;
    return key.plaintext
      ? { plaintext: true }
      : { fingerprint: key.fingerprint };
  }

  /**
   * ConnectToDevice: a session of pipelined calls to one device.
   * @param {string} deviceId
   */
  openSession(deviceId) {
    const session = new DeviceSession(
      this.#openStream("CONNECT_TO_DEVICE"),
      deviceId,
      this.#types,
      {
        e2e: this.#options.e2e.session(deviceId),
        onClose: () => this.#sessions.delete(session),
      },
    );
    this.#sessions.add(session);
    return session;
  }

  /** Ends every session and the WebTransport session. */
  close() {
    for (const session of this.#sessions) session.close();
    try {
      this.#transport.close({ closeCode: 0, reason: "closed" });
    } catch (error) {
      // Already closed: nothing more to end.
      void error;
    }
  }

  async #openStream(kind) {
    let bidi;
    try {
      bidi = await this.#transport.createBidirectionalStream();
    } catch (error) {
      throw new RelayClientError(
        "UNAVAILABLE",
        `cannot open a stream: ${error?.message ?? error}`,
        { cause: error },
      );
    }
    const stream = new FramedStream(bidi, this.#types.controllerFrame, {
      maxFrameBytes: this.#options.maxFrameBytes,
    });
    await stream.send(this.#types.open, {
      kind,
      authorization: this.#options.token ? `Bearer ${this.#options.token}` : "",
    });
    return stream;
  }
}

/** One stream: typed frames out, ControllerStreamFrame frames in. */
class FramedStream {
  #writer;
  #reader;
  #decodeFrame;
  #maxFrameBytes;
  #chunks = [];
  #buffered = 0;

  constructor(bidi, decodeFrame, { maxFrameBytes }) {
    this.#writer = bidi.writable.getWriter();
    this.#reader = bidi.readable.getReader();
    this.#decodeFrame = decodeFrame;
    this.#maxFrameBytes = maxFrameBytes;
  }

  async send(codec, message) {
    const frame = codec.frame(message);
    try {
      await this.#writer.write(frame);
    } catch (error) {
      throw streamFailed(error);
    }
  }

  async end() {
    await this.#writer.close().catch(() => undefined);
  }

  /**
   * The next ControllerStreamFrame, or undefined at a clean end; an error
   * frame (the stream-level status) is thrown as RelayClientError.
   */
  async next() {
    if (!await this.#fill(FRAME_HEADER_BYTES, true)) return undefined;
    const header = this.#take(FRAME_HEADER_BYTES);
    const length = new DataView(header.buffer, header.byteOffset).getUint32(0);
    if (length > this.#maxFrameBytes) {
      throw new RelayClientError(
        "INVALID_REQUEST",
        `frame of ${length} bytes exceeds the maximum of ${this.#maxFrameBytes}`,
      );
    }
    await this.#fill(length, false);
    const frame = this.#decodeFrame.decode(this.#take(length));
    if (frame.error) {
      throw new RelayClientError(frame.error.code, frame.error.message);
    }
    return frame;
  }

  cancel() {
    this.#writer.abort().catch(() => undefined);
    this.#reader.cancel().catch(() => undefined);
  }

  /**
   * Reads until `bytes` are buffered. At a frame boundary a clean end of
   * stream with nothing buffered returns false; any other end is an error.
   */
  async #fill(bytes, atBoundary) {
    while (this.#buffered < bytes) {
      let chunk;
      try {
        chunk = await this.#reader.read();
      } catch (error) {
        throw streamFailed(error);
      }
      if (chunk.done) {
        if (atBoundary && this.#buffered === 0) return false;
        throw new RelayClientError(
          "UNAVAILABLE",
          "stream ended inside a frame",
        );
      }
      if (chunk.value.byteLength === 0) continue;
      this.#chunks.push(chunk.value);
      this.#buffered += chunk.value.byteLength;
    }
    return true;
  }

  /** Removes `bytes` buffered bytes (copied only when they span chunks). */
  #take(bytes) {
    const first = this.#chunks[0];
    if (first !== undefined && first.byteLength >= bytes) {
      if (first.byteLength === bytes) this.#chunks.shift();
      else this.#chunks[0] = first.subarray(bytes);
      this.#buffered -= bytes;
      return first.subarray(0, bytes);
    }
    const out = new Uint8Array(bytes);
    for (let offset = 0; offset < bytes;) {
      const chunk = this.#chunks[0];
      const part = chunk.subarray(
        0,
        Math.min(chunk.byteLength, bytes - offset),
      );
      out.set(part, offset);
      offset += part.byteLength;
      if (part.byteLength === chunk.byteLength) this.#chunks.shift();
      else this.#chunks[0] = chunk.subarray(part.byteLength);
    }
    this.#buffered -= bytes;
    return out;
  }
}

class DeviceSession {
  #stream;
  #deviceId;
  #types;
  #e2e;
  #onClose;
  #waiting = new Map();
  #nextSequence = Math.floor(Math.random() * 2 ** 52);
  #failure;
  #closed = false;

  constructor(stream, deviceId, types, { e2e, onClose }) {
    this.#stream = stream;
    this.#deviceId = deviceId;
    this.#types = types;
    this.#e2e = e2e;
    this.#onClose = onClose;
    stream.catch(() => undefined); // reported through read() to every call
    this.#read();
  }

  get deviceId() {
    return this.#deviceId;
  }

  /** True once the session was closed or the relay ended it (open a new one). */
  get closed() {
    return this.#closed || this.#failure !== undefined;
  }

  /**
   * Sends one request, sealed end to end; resolves with the device's answer
   * bytes (opened), or rejects with a RelayClientError carrying the relay's,
   * the device's or the end-to-end check's code.
   * @param {string} method
   * @param {Uint8Array} payload
   * @param {{ timeoutMs?: number }} [options]
   * @returns {Promise<Uint8Array>}
   */
  call(method, payload, options = {}) {
    const refusal = this.#refusal();
    if (refusal) return Promise.reject(refusal);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return this.#request({
      method,
      payload,
      // Taken now, so pipelined calls are numbered in call order.
      sequenceNumber: this.#nextSequence++,
      deadline: Date.now() + timeoutMs,
    }, true);
  }

  /**
   * Seals, sends and opens one request. A device that refuses the request's
   * session (it restarted, or the session is too old) gets it once more, in
   * a new session, with the same sequence number (the SDK does the same).
   */
  async #request(request, mayResend) {
    let prepared;
    try {
      prepared = await this.#e2e.prepare(request.method, request.payload);
    } catch (error) {
      throw error instanceof RelayClientError ? error : new RelayClientError(
        "INTERNAL_ERROR",
        `e2e: cannot seal the request: ${error?.message ?? error}`,
        { cause: error },
      );
    }
    const response = await this.#exchange(
      request,
      prepared.payload,
      Math.max(1, request.deadline - Date.now()),
    );
    try {
      return await prepared.open(response);
    } catch (error) {
      if (mayResend && prepared.encrypted && isSessionRefusal(response)) {
        return await this.#request(request, false);
      }
      throw error;
    }
  }

  /** Sends one ControllerMessage; resolves with its DeviceResponse. */
  #exchange({ method, sequenceNumber }, bytes, timeoutMs) {
    const refusal = this.#refusal();
    if (refusal) return Promise.reject(refusal);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(sequenceNumber);
        reject(
          new RelayClientError(
            "DEADLINE_EXCEEDED",
            "no answer before the deadline",
          ),
        );
      }, timeoutMs + LOCAL_DEADLINE_GRACE_MS);
      this.#waiting.set(sequenceNumber, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.#stream
        .then((stream) =>
          stream.send(this.#types.controllerMessage, {
            target_device_id: this.#deviceId,
            method_name: method,
            sequence_number: sequenceNumber,
            encrypted_payload: bytes,
            timeout_ms: timeoutMs,
          })
        )
        .catch((error) => this.#settle(sequenceNumber, asRelayError(error)));
    });
  }

  #refusal() {
    if (this.#failure) return this.#failure;
    if (this.#closed) {
      return new RelayClientError("CANCELLED", "session is closed");
    }
    return undefined;
  }

  /** Ends the session: outstanding calls are rejected with CANCELLED. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#failAll(new RelayClientError("CANCELLED", "session closed"));
    this.#stream.then((stream) => stream.cancel(), () => undefined);
  }

  async #read() {
    try {
      const stream = await this.#stream;
      for (
        let frame = await stream.next();
        frame;
        frame = await stream.next()
      ) {
        const response = frame.response;
        if (response) this.#settle(response.sequence_number, response);
      }
      this.#fail(
        new RelayClientError("UNAVAILABLE", "relay ended the session"),
      );
    } catch (error) {
      this.#fail(asRelayError(error));
    }
  }

  #settle(sequenceNumber, outcome) {
    const waiter = this.#waiting.get(sequenceNumber);
    if (!waiter) return;
    this.#waiting.delete(sequenceNumber);
    if (outcome instanceof Error) waiter.reject(outcome);
    else waiter.resolve(outcome);
  }

  #fail(error) {
    if (this.#closed) return;
    this.#failure = error;
    this.#onClose();
    this.#failAll(error);
  }

  #failAll(error) {
    const waiters = [...this.#waiting.values()];
    this.#waiting.clear();
    for (const waiter of waiters) waiter.reject(error);
  }
}

function asRelayError(error) {
  return error instanceof RelayClientError ? error : streamFailed(error);
}

function streamFailed(error) {
  return new RelayClientError(
    "UNAVAILABLE",
    `WebTransport stream failed: ${error?.message ?? error}`,
    { cause: error },
  );
}

/** Uint8Array, ArrayBuffer or base64 (standard or URL-safe) to bytes. */
function toBytes(value) {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  const base64 = String(value).replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
}
