// One broker process of a cluster that a bench or a test starts (nats-cluster.mjs,
// rabbitmq-cluster.mjs): whether it still runs, and the tail of what it said, for
// the error that explains a node that did not come up.

export class ClusterNode {
  #proc;
  #log = '';

  /** The node's process, once `attach` gave it one. */
  get proc() {
    return this.#proc;
  }

  get alive() {
    const p = this.#proc;
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  log() {
    return this.#log.slice(-4000);
  }

  /** Holds `p` as this node's process and keeps the tail of `streams`; resolves once it spawned. */
  attach(p, ...streams) {
    this.#proc = p;
    for (const s of streams)
      s.on('data', (d) => {
        this.#log = (this.#log + d.toString()).slice(-20_000);
      });
    return new Promise((resolve, reject) => {
      p.once('spawn', resolve);
      p.once('error', reject);
    });
  }
}
