import assert from "node:assert/strict";
import {
  formatHostPort,
  hostOf,
  hostPortProblem,
  isUnspecifiedHost,
  parseHostPort,
} from "./host_port.ts";
import { RelayError } from "../errors/relay_error.ts";

Deno.test("parseHostPort reads IPv4, bracketed IPv6 and host names", () => {
  assert.deepEqual(parseHostPort("127.0.0.1:50051"), {
    host: "127.0.0.1",
    port: 50051,
  });
  assert.deepEqual(parseHostPort("[::1]:50052"), { host: "::1", port: 50052 });
  assert.deepEqual(parseHostPort("[::]:8080"), { host: "::", port: 8080 });
  assert.deepEqual(parseHostPort("[fe80::1%eth0]:1883"), {
    host: "fe80::1%eth0",
    port: 1883,
  });
  assert.deepEqual(parseHostPort("relay.example.com:443"), {
    host: "relay.example.com",
    port: 443,
  });
  assert.deepEqual(parseHostPort("localhost:65535"), {
    host: "localhost",
    port: 65535,
  });
});

Deno.test("port 0 (any free port) is an address", () => {
  assert.deepEqual(parseHostPort("0.0.0.0:0"), { host: "0.0.0.0", port: 0 });
  assert.deepEqual(parseHostPort("[::]:0"), { host: "::", port: 0 });
});

Deno.test("a missing port takes the default port, or is refused", () => {
  assert.deepEqual(parseHostPort("broker", { defaultPort: 1883 }), {
    host: "broker",
    port: 1883,
  });
  assert.deepEqual(parseHostPort("[::1]", { defaultPort: 8883 }), {
    host: "::1",
    port: 8883,
  });
  assert.deepEqual(parseHostPort("broker:1", { defaultPort: 1883 }), {
    host: "broker",
    port: 1,
  });
  assert.throws(
    () => parseHostPort("broker"),
    (error: RelayError) =>
      error instanceof RelayError && error.code === "INVALID_REQUEST" &&
      error.message === 'expected host:port, got "broker"',
  );
});

Deno.test("bad addresses are refused with a reason that names the text", () => {
  const refuses = (text: string, reason: RegExp) =>
    assert.throws(
      () => parseHostPort(text, { what: "--flag" }),
      (error: RelayError) =>
        error instanceof RelayError && error.code === "INVALID_REQUEST" &&
        reason.test(error.message) &&
        error.message.startsWith("--flag: ") &&
        error.message.endsWith(`got ${JSON.stringify(text)}`),
    );
  refuses("", /expected host:port/);
  refuses(":50051", /expected host:port/);
  refuses("host:", /expected host:port/);
  refuses("host:http", /expected host:port/);
  refuses("host:-1", /expected host:port/);
  refuses("host:1:2", /IPv6 address in brackets/);
  refuses("::1:50051", /IPv6 address in brackets/);
  refuses("[::1:50051", /expected host:port/);
  refuses("[]:1", /expected host:port/);
  refuses("[127.0.0.1]:1", /brackets only around an IPv6 address/);
  refuses("a b:1", /expected host:port/);
  refuses("host:65536", /port 65536 is out of range \(0 to 65535\)/);
  refuses("[::1]:99999999", /out of range/);
});

Deno.test("hostPortProblem says why, without throwing", () => {
  assert.equal(hostPortProblem("127.0.0.1:1"), undefined);
  assert.equal(hostPortProblem("nowhere"), "expected host:port");
  assert.equal(hostPortProblem("nowhere", { defaultPort: 1 }), undefined);
  assert.match(hostPortProblem("h:70000")!, /out of range/);
});

Deno.test("formatHostPort brackets IPv6 hosts only", () => {
  assert.equal(formatHostPort("127.0.0.1", 50051), "127.0.0.1:50051");
  assert.equal(formatHostPort("localhost", 0), "localhost:0");
  assert.equal(formatHostPort("::1", 50052), "[::1]:50052");
  assert.equal(formatHostPort("[::1]", 50052), "[::1]:50052");
  for (const text of ["10.0.0.1:1", "[::]:2", "example.org:3"]) {
    const { host, port } = parseHostPort(text);
    assert.equal(formatHostPort(host, port), text);
  }
});

Deno.test("hostOf takes the host of any address, with or without a port", () => {
  assert.equal(hostOf("127.0.0.1:5000"), "127.0.0.1");
  assert.equal(hostOf("[::1]:5000"), "::1");
  assert.equal(hostOf("[::1]"), "::1");
  assert.equal(hostOf("relay.example.com"), "relay.example.com");
  assert.equal(hostOf("::1"), "::1", "a socket's bare IPv6 address");
  assert.equal(hostOf("::ffff:10.0.0.1"), "::ffff:10.0.0.1");
  assert.equal(hostOf(""), "");
  assert.equal(hostOf("host:port"), "host:port", "no address: as it is");
});

Deno.test("isUnspecifiedHost knows the wildcard binds", () => {
  assert.ok(isUnspecifiedHost("0.0.0.0"));
  assert.ok(isUnspecifiedHost("::"));
  assert.equal(isUnspecifiedHost("127.0.0.1"), false);
  assert.equal(isUnspecifiedHost("[::]"), false, "hosts come unbracketed");
});
