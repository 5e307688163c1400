// Development PKI: a self-signed CA plus a server certificate issued by it.
// The server certificate must not itself be a CA (Deno's QUIC rejects that).
import "reflect-metadata"; // @peculiar/x509 needs the Reflect metadata API
import * as x509 from "@peculiar/x509";

const ALGORITHM = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface DevPkiOptions {
  /** DNS names and IP addresses the server certificate is valid for. */
  hosts: readonly string[];
  validityDays?: number;
}

export interface DevPki {
  caCertPem: string;
  caKeyPem: string;
  serverCertPem: string;
  serverKeyPem: string;
}

x509.cryptoProvider.set(crypto);

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // positive integer
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

export async function generateDevPki(options: DevPkiOptions): Promise<DevPki> {
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + (options.validityDays ?? 365) * DAY_MS);

  const caKeys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=grpc-relay dev CA",
    notBefore,
    notAfter,
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });

  const serverKeys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const sanEntries = options.hosts.map((host) => ({
    type: isIpAddress(host) ? "ip" as const : "dns" as const,
    value: host,
  }));
  const serverCert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${options.hosts[0] ?? "localhost"}`,
    issuer: caCert.subject,
    notBefore,
    notAfter,
    signingKey: caKeys.privateKey,
    publicKey: serverKeys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(sanEntries),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });

  return {
    caCertPem: caCert.toString("pem") + "\n",
    caKeyPem: toPem(
      await crypto.subtle.exportKey("pkcs8", caKeys.privateKey),
      "PRIVATE KEY",
    ),
    serverCertPem: serverCert.toString("pem") + "\n",
    serverKeyPem: toPem(
      await crypto.subtle.exportKey("pkcs8", serverKeys.privateKey),
      "PRIVATE KEY",
    ),
  };
}
