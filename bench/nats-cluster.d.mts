/** See nats-cluster.mjs. */
export interface NatsNode {
  readonly name: string;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly url: string;
  readonly alive: boolean;
  /** What the node printed (stderr), for a failure message. */
  log(): string;
}

export class NatsCluster {
  private constructor();
  static start(): Promise<NatsCluster>;
  ready(timeoutMs?: number): Promise<void>;
  readonly nodes: readonly NatsNode[];
  readonly urls: string[];
  node(url: string): NatsNode;
  kill(node: NatsNode): Promise<void>;
  restart(node: NatsNode): Promise<void>;
  waitReplicated(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** A connection (reconnectPeriod 0) or undefined when it could not connect; its errors are listened to. */
export function connectOnce(url: string, opts: import('mqtt').IClientOptions): Promise<import('mqtt').MqttClient | undefined>;
