// Delays between reconnect attempts to the broker: exponential with jitter,
// so a fleet of relays does not reconnect in lockstep after a broker restart.

export interface BackoffBounds {
  minMs: number;
  maxMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 for the first after a loss):
 * uniform between `minMs` and min(maxMs, minMs * 2^attempt).
 */
export function reconnectDelayMs(
  attempt: number,
  bounds: BackoffBounds,
  random: () => number = Math.random,
): number {
  const { minMs, maxMs } = bounds;
  const ceiling = Math.min(maxMs, minMs * 2 ** Math.min(attempt, 30));
  return Math.max(minMs, minMs + random() * (ceiling - minMs));
}
