/**
 * The contract's topic tree, as pure functions: what the agent subscribes to,
 * what it publishes on, and what an inbound topic means.
 */
import { ID_PATTERN } from '../config/schema.js';

export interface TopicScheme {
  readonly base: string;
  readonly node: string;
  readonly groups: readonly string[];
}

export const nodeTopic = (t: TopicScheme, leaf: 'status' | 'state' | 'devices' | 'result'): string => `${t.base}/${t.node}/${leaf}`;
export const deviceTopic = (t: TopicScheme, device: string, leaf: 'state' | 'availability' | 'event' | 'result'): string =>
  `${t.base}/${t.node}/${device}/${leaf}`;
export const deviceCommandTopic = (t: TopicScheme, device: string, command: string): string =>
  `${t.base}/${t.node}/${device}/cmd/${command}`;

/** The subscriptions that bring every command addressed to this node. */
export function commandSubscriptions(t: TopicScheme): string[] {
  const subs = [`${t.base}/${t.node}/+/cmd/+`, `${t.base}/${t.node}/cmd/+`];
  for (const g of t.groups) subs.push(`${t.base}/group/${g}/+/cmd/+`, `${t.base}/group/${g}/cmd/+`);
  return subs;
}

export type CommandAddress =
  /** `device` is the raw segment; `validId` says whether it could name a device at all. */
  | { readonly scope: 'device'; readonly device: string; readonly validId: boolean; readonly command: string; readonly group?: string }
  | { readonly scope: 'node'; readonly command: string; readonly group?: string };

/** What a topic addresses, or null when it is not a command topic of this node. */
export function parseCommandTopic(t: TopicScheme, topic: string): CommandAddress | null {
  const base = `${t.base}/`;
  if (!topic.startsWith(base)) return null;
  const rest = topic.slice(base.length).split('/');
  let group: string | undefined;
  let levels: string[];
  if (rest[0] === t.node) {
    levels = rest.slice(1);
  } else if (rest[0] === 'group' && rest[1] !== undefined && t.groups.includes(rest[1])) {
    group = rest[1];
    levels = rest.slice(2);
  } else {
    return null;
  }
  const extra = group ? { group } : {};
  if (levels.length === 2 && levels[0] === 'cmd' && levels[1]) return { scope: 'node', command: levels[1], ...extra };
  if (levels.length === 3 && levels[1] === 'cmd' && levels[0] && levels[2]) {
    return { scope: 'device', device: levels[0], validId: ID_PATTERN.test(levels[0]), command: levels[2], ...extra };
  }
  return null;
}
