/**
 * Gauges a logic reports about its own actors (issue 12): a breaker its state per target, an escrow its waiting
 * items. A logic declares `troupeGauges(snapshot)`; the runtime reads every local actor of such a logic at scrape
 * time (`system.runtimeStats().gauges`, summed per name and labels), so nothing runs on the message path and the
 * labels stay the logic's bounded ones (a breaker's target, never an actor id).
 */
export interface GaugeReading {
  /** An OpenTelemetry metric name, e.g. `troupe.breaker.state`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export type DeclaresGauges = { troupeGauges?: (snapshot: unknown) => readonly GaugeReading[] };

/** Adds `readings` into `into`, summing equal name and labels. */
export function addReadings(into: Map<string, GaugeReading>, readings: readonly GaugeReading[]): void {
  for (const reading of readings) {
    const key = `${reading.name}|${Object.keys(reading.labels).sort().map((k) => `${k}=${reading.labels[k]}`).join(',')}`;
    const seen = into.get(key);
    into.set(key, seen === undefined ? reading : { ...seen, value: seen.value + reading.value });
  }
}
