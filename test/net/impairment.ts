// What happens to one datagram on an impaired link: dropped, delayed (with
// jitter), held back so later ones overtake it, or duplicated. Pure: the
// caller supplies the random source, so a seeded one makes it reproducible.

export interface Impairment {
  /** Probability in [0, 1] that a datagram is dropped. */
  lossRate: number;
  /** Base one-way delay in ms. */
  delayMs: number;
  /** Extra delay drawn uniformly from [0, jitterMs) per datagram. */
  jitterMs: number;
  /** Probability that a datagram is held back by `reorderDelayMs` more. */
  reorderRate: number;
  /** Extra hold-back of a reordered datagram, in ms. */
  reorderDelayMs: number;
  /** Probability that a datagram is delivered twice. */
  duplicateRate: number;
}

export const NO_IMPAIRMENT: Readonly<Impairment> = Object.freeze({
  lossRate: 0,
  delayMs: 0,
  jitterMs: 0,
  reorderRate: 0,
  reorderDelayMs: 10,
  duplicateRate: 0,
});

/**
 * The delays (ms) after which copies of one datagram are delivered: [] when
 * it is lost, two entries when it is duplicated. Always draws the same
 * number of random values, so one datagram's fate never shifts the draws of
 * the next when only the rates change.
 */
export function planDelivery(
  impairment: Impairment,
  random: () => number,
): number[] {
  const lost = random() < impairment.lossRate;
  const jitter = random() * impairment.jitterMs;
  const reordered = random() < impairment.reorderRate;
  const duplicated = random() < impairment.duplicateRate;
  const duplicateJitter = random() * impairment.jitterMs;
  if (lost) return [];
  const delay = impairment.delayMs + jitter +
    (reordered ? impairment.reorderDelayMs : 0);
  return duplicated ? [delay, impairment.delayMs + duplicateJitter] : [delay];
}
