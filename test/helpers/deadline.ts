/**
 * Deadlines of the tests' waits are written for an idle machine and
 * stretched here: a loaded 2-core CI machine runs many times slower, and a
 * deadline only decides when an event that never came is reported (nothing
 * waits for it when the event comes). DEV2MQTT_TEST_DEADLINE_SCALE sets the
 * stretch (default 5).
 */
const scale = Number(process.env.DEV2MQTT_TEST_DEADLINE_SCALE ?? 5);

export function deadline(idleMs: number): number {
  return idleMs * (Number.isFinite(scale) && scale > 0 ? scale : 5);
}
