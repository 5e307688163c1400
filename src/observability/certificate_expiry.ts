// The relay's TLS certificate expiry as a metric, so that an alert can warn
// before clients start refusing it (deploy/prometheus/relay_rules.yml).
import { X509Certificate } from "node:crypto";
import { Gauge, type Registry } from "prom-client";

/** relay_tls_certificate_expiry_timestamp_seconds: the served certificate's notAfter. */
export function certificateExpiryGauge(
  registry: Registry,
  certPem: string,
): void {
  const notAfterMs = Date.parse(new X509Certificate(certPem).validTo);
  const gauge = new Gauge({
    name: "relay_tls_certificate_expiry_timestamp_seconds",
    help: "When the relay's TLS certificate expires (Unix seconds)",
    registers: [registry],
  });
  gauge.set(Math.floor(notAfterMs / 1000));
}
