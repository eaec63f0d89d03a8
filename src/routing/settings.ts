import type { CircuitSettings, RoutingConfig } from './types.js';

/** Which routing settings are a deployment's circuit's, and a settings object without its unset fields. */

export const CIRCUIT_FIELDS = ['circuitConsecutiveFailures', 'circuitFailureRate', 'circuitWindowMs', 'circuitMinRequests', 'circuitCooldownMs'] as const;

/** A deployment's circuit settings out of a whole routing config. */
export function pickCircuit(c: RoutingConfig): CircuitSettings {
  return {
    circuitConsecutiveFailures: c.circuitConsecutiveFailures,
    circuitFailureRate: c.circuitFailureRate,
    circuitWindowMs: c.circuitWindowMs,
    circuitMinRequests: c.circuitMinRequests,
    circuitCooldownMs: c.circuitCooldownMs,
  };
}

/** `o` without its `undefined` fields, so spreading it over defaults keeps them. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
