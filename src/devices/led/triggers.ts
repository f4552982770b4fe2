/**
 * The `trigger` attribute of the LED class: every trigger the kernel offers
 * for this LED, separated by spaces, the active one in brackets:
 * `none kbd-capslock [mmc0] timer heartbeat` (drivers/leds/led-triggers.c).
 */
export interface Triggers {
  /** The bracketed one; `none` when no trigger is active. */
  readonly selected: string;
  readonly available: readonly string[];
}

export function parseTriggers(text: string): Triggers {
  let selected = 'none';
  const available: string[] = [];
  for (const word of text.split(/\s+/)) {
    if (!word) continue;
    const bracketed = /^\[(.+)\]$/.exec(word);
    if (bracketed?.[1]) selected = bracketed[1];
    available.push(bracketed?.[1] ?? word);
  }
  return { selected, available };
}

/** The kernel's rendering: `[none]` or `none`, then ` name` per trigger, the active one bracketed, then a newline. */
export function formatTriggers(t: Triggers): string {
  const words = t.available.map((name) => (name === t.selected ? `[${name}]` : name));
  return `${words.join(' ')}\n`;
}

/** What a sim LED offers when its options name none: roughly a Raspberry Pi kernel's built-in triggers. */
export const SIM_TRIGGERS: readonly string[] = ['none', 'timer', 'oneshot', 'heartbeat', 'backlight', 'default-on', 'panic'];
/** A sim LED's max_brightness when its options name none (also Home Assistant's default scale). */
export const SIM_MAX_BRIGHTNESS = 255;
