/**
 * The brokers an agent may connect to (`mqtt.servers`, or the one `mqtt.url`)
 * and which one is next. The first is picked at random, so a fleet spreads
 * over a cluster's nodes instead of all landing on the first one listed; each
 * failed attempt or lost connection moves to the next, so a dead node costs
 * one backoff step, not a wait for that node to come back.
 */

export interface Endpoint {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  /** scheme://host:port: what the log and node state show (never a user or password from the URL). */
  readonly label: string;
}

export function parseBrokerUrl(url: string): Endpoint {
  const u = new URL(url);
  const secure = ['mqtts:', 'ssl:', 'tls:'].includes(u.protocol);
  if (!secure && !['mqtt:', 'tcp:'].includes(u.protocol)) throw new Error(`unsupported broker URL scheme ${u.protocol}`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = u.port ? Number(u.port) : secure ? 8883 : 1883;
  return { secure, host, port, label: `${u.protocol}//${u.hostname}:${port}` };
}

export class ServerList {
  readonly endpoints: readonly Endpoint[];
  #index: number;

  /** `first`: index of the first server to try; default a random one. */
  constructor(urls: readonly string[], first?: number) {
    if (!urls.length) throw new Error('no broker to connect to');
    this.endpoints = urls.map(parseBrokerUrl);
    this.#index = first === undefined ? Math.floor(Math.random() * urls.length) : first % urls.length;
  }

  get current(): Endpoint {
    return this.endpoints[this.#index] as Endpoint;
  }

  get anySecure(): boolean {
    return this.endpoints.some((e) => e.secure);
  }

  /** The connection to the current one failed or was lost: the next attempt goes to the next. */
  advance(): void {
    this.#index = (this.#index + 1) % this.endpoints.length;
  }
}
