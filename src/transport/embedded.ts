/**
 * The embedded aedes broker, so `npm start` works on a machine with nothing
 * else installed. It binds loopback unless told otherwise, and a non-loopback
 * address is refused at config time unless broker.auth is set. aedes speaks
 * MQTT 3.1.1 only, so the agent connects to it with 3.1.1.
 */
import net from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { Aedes } from 'aedes';
import type { Logger } from 'pino';
import { readSecretFile } from '../secret-file.js';

export interface EmbeddedSettings {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly passwordFile: string;
}

export interface EmbeddedBroker {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

function sameSecret(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startEmbeddedBroker(s: EmbeddedSettings, log: Logger): Promise<EmbeddedBroker> {
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 });
  if (s.username) {
    const expectedUser = Buffer.from(s.username);
    const expectedPass = Buffer.from(readSecretFile(s.passwordFile));
    aedes.authenticate = (client, username, password, done) => {
      const ok =
        username !== undefined &&
        password !== undefined &&
        sameSecret(Buffer.from(username), expectedUser) &&
        sameSecret(password, expectedPass);
      if (!ok) log.warn({ client: client.id }, 'embedded broker: login refused');
      done(null, ok);
    };
  }
  aedes.on('clientError', (client, err) => log.debug({ client: client.id, err: err.message }, 'embedded broker: client error'));

  const server = net.createServer((socket) => {
    // Both ends of every hop without Nagle: see transport/mqtt.ts.
    socket.setNoDelay(true);
    aedes.handle(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: Error & { code?: string }) =>
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `embedded broker: ${s.host}:${s.port} is already in use (another broker? set broker.port, or mqtt.url to that broker)`
            : `embedded broker: ${e.message}`,
        ),
      ),
    );
    server.listen(s.port, s.host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  log.info({ host: address.address, port: address.port }, 'embedded MQTT broker listening');
  return {
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => undefined);
        // Connected clients keep the server open; aedes.close() ends them.
      }),
  };
}
