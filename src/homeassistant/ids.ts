/**
 * Names in Home Assistant's registries and on the discovery topics.
 *
 * unique_id and device identifiers join node, device and part with `:`.
 * Node and device ids match [A-Za-z0-9_-] and parts [a-z0-9_], so no two
 * (node, device, part) give the same string: node `pi` with device
 * `kitchen_led` and node `pi_kitchen` with device `led` stay apart, where the
 * first scheme's `{node}_{device}` made them one. The node's own entities
 * have an empty device (`dev2mqtt:pi::uptime`), which no device id can be.
 *
 * Topics carry the node as HA's node_id level, so one ACL pattern line
 * (`homeassistant/+/%u/#`) confines each node to its own configs.
 */
import type { HaComponent } from './entities.js';

/**
 * How long a part may be: what kinds make of names on the machine (a host's
 * `disk_media_pi_backup_drive_2024_used` for a USB drive a Pi mounted) fits,
 * and the longest entity id it can give (`binary_sensor.` node `_` device `_`
 * part, ids of 64) stays within HA's 255 characters.
 */
export const PART_MAX_LENGTH = 100;
/** A part: the entity's name among its device's, [a-z0-9_]. */
export const PART_PATTERN = new RegExp(`^[a-z0-9_]{1,${PART_MAX_LENGTH}}$`);

export const nodeIdentifier = (node: string): string => `dev2mqtt:${node}`;
export const deviceIdentifier = (node: string, device: string): string => `dev2mqtt:${node}:${device}`;

/** `dev2mqtt:{node}:{device}[:{part}]`; the node's entities: `dev2mqtt:{node}::{part}`. */
export function uniqueId(node: string, device: string | undefined, part: string | undefined): string {
  const tail = part ? `:${part}` : '';
  return device === undefined ? `dev2mqtt:${node}:${tail}` : `${deviceIdentifier(node, device)}${tail}`;
}

/** Where a device's entities sit in its device-based config (`cmps`): the platform and part, so a platform change is a new key. */
export const componentKey = (component: HaComponent, part: string | undefined): string => (part ? `${component}_${part}` : component);

/** The first scheme's object id, `{node}_{device}[_{part}]` (`{node}_agent_{part}` for the node): the entity ids users have. */
export function legacyObjectId(node: string, device: string | undefined, part: string | undefined): string {
  return `${node}_${device ?? 'agent'}${part ? `_${part}` : ''}`;
}

/** What HA's slugify makes of an object id (lower case, other runs of characters one `_`): the entity id it gave. */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'unknown'
  );
}

/**
 * HA names the entity from this (2025.10 on): the entity id the first
 * scheme's object id gave (`light.pi_17_act` for node `pi-17`, device `act`),
 * so entity ids survive the new unique ids.
 */
export function defaultEntityId(component: HaComponent, node: string, device: string | undefined, part: string | undefined): string {
  return `${component}.${slug(legacyObjectId(node, device, part))}`;
}

/** Device-based discovery: `{prefix}/device/{node}/{device}/config`; the node's own device: `{prefix}/device/{node}/config`. */
export function deviceConfigTopic(prefix: string, node: string, device: string | undefined): string {
  return device === undefined ? `${prefix}/device/${node}/config` : `${prefix}/device/${node}/${device}/config`;
}

/** Per-entity discovery: `{prefix}/{component}/{node}/{device}[_{part}]/config` (the node's: `…/{node}/agent_{part}/config`). */
export function entityConfigTopic(
  prefix: string,
  component: HaComponent,
  node: string,
  device: string | undefined,
  part: string | undefined,
) {
  const object = `${device ?? 'agent'}${part ? `_${part}` : ''}`;
  return `${prefix}/${component}/${node}/${object}/config`;
}

/** Where the first scheme put a config: `{prefix}/{component}/{node}_{device}[_{part}]/config`. Cleared once on upgrade. */
export function legacyConfigTopic(
  prefix: string,
  component: HaComponent,
  node: string,
  device: string | undefined,
  part: string | undefined,
) {
  return `${prefix}/${component}/${legacyObjectId(node, device, part)}/config`;
}
