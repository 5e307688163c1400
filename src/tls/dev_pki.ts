// Development PKI: a self-signed CA (long-lived) and a server certificate it
// issues. The server certificate is short-lived ECDSA P-256 so browsers can
// pin it with WebTransport `serverCertificateHashes` (at most 14 days); it
// is re-issued from the same CA when it nears expiry, so clients that trust
// the CA never notice. It is never a CA itself (Deno's QUIC rejects that).
import "reflect-metadata"; // @peculiar/x509 needs the Reflect metadata API
import * as x509 from "@peculiar/x509";

const ALGORITHM = {
  name: "ECDSA",
  namedCurve: "P-256",
  hash: "SHA-256",
} as const;
const DAY_MS = 24 * 60 * 60 * 1000;
/** WebTransport serverCertificateHashes accepts certificates valid for at most 14 days. */
export const SERVER_CERT_VALIDITY_DAYS = 13;
const CA_VALIDITY_DAYS = 3650;

x509.cryptoProvider.set(crypto);

export interface DevCa {
  caCertPem: string;
  caKeyPem: string;
}

export interface ServerCertificate {
  serverCertPem: string;
  serverKeyPem: string;
}

export async function createDevCa(): Promise<DevCa> {
  const now = Date.now();
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: "CN=grpc-relay dev CA",
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    caCertPem: cert.toString("pem") + "\n",
    caKeyPem: toPem(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    ),
  };
}

export interface IssueOptions {
  /** DNS names and IP addresses the certificate is valid for. */
  hosts: readonly string[];
  validityDays?: number;
}

export async function issueServerCertificate(
  ca: DevCa,
  options: IssueOptions,
): Promise<ServerCertificate> {
  const now = Date.now();
  const caCert = new x509.X509Certificate(ca.caCertPem);
  const caKey = await crypto.subtle.importKey(
    "pkcs8",
    fromPem(ca.caKeyPem),
    ALGORITHM,
    false,
    ["sign"],
  );
  const keys = await crypto.subtle.generateKey(ALGORITHM, true, [
    "sign",
    "verify",
  ]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${options.hosts[0] ?? "localhost"}`,
    issuer: caCert.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(
      now + (options.validityDays ?? SERVER_CERT_VALIDITY_DAYS) * DAY_MS,
    ),
    signingKey: caKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(options.hosts.map((host) => ({
        type: isIpAddress(host) ? "ip" as const : "dns" as const,
        value: host,
      }))),
      await x509.AuthorityKeyIdentifierExtension.create(caCert, false),
    ],
  });
  return {
    serverCertPem: cert.toString("pem") + "\n",
    serverKeyPem: toPem(
      await crypto.subtle.exportKey("pkcs8", keys.privateKey),
      "PRIVATE KEY",
    ),
  };
}

/** Milliseconds until the certificate's notAfter. */
export function expiresInMs(certPem: string): number {
  return new x509.X509Certificate(certPem).notAfter.getTime() - Date.now();
}

/** SHA-256 of the certificate's DER bytes (what serverCertificateHashes pins). */
export async function certificateSha256(
  certPem: string,
): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", fromPem(certPem)),
  );
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${
    lines.join("\n")
  }\n-----END ${label}-----\n`;
}

function fromPem(pem: string): ArrayBuffer {
  const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer;
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = bytes[0]! & 0x7f; // a positive integer
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function isIpAddress(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}
