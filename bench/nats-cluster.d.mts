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
