// Free loopback ports for brokers, shared by bench/ and the tests' helpers.
import { readFileSync } from 'node:fs';
import net from 'node:net';

function canListen(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const got = srv.address().port;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A loopback port nothing listens on, for a broker that a test or a bench
 * starts (and may restart on the same port). Picked below the kernel's
 * ephemeral range: a port from listen(0) lies inside it, so between this
 * check and the broker's bind an outgoing connection elsewhere could take it,
 * and while a broker is down a reconnecting client could even connect to
 * itself on it (the fleet bench restarts mosquitto under 1,000 agents).
 */
export async function freePort() {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const bottom = 10_000;
  if (low > bottom + 1000) {
    for (let i = 0; i < 200; i++) {
      const port = await canListen(bottom + Math.floor(Math.random() * (low - bottom)));
      if (port !== undefined) return port;
    }
  }
  const any = await canListen(0);
  if (any === undefined) throw new Error('cannot listen on 127.0.0.1');
  return any;
}

/** Whether something accepts connections on loopback `port` (a broker that finished starting). */
export function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
