// mosquitto_pub and mosquitto_sub on MQTT.js: the options the tests use, the same
// output and exit codes. The tests drive brokers with the real clients where
// they are installed (always under CI); without them they drive them with these.
// `node mqtt-cli.mjs pub|sub ARGS…` runs one as a process; pub() and sub() run
// one in this process. An option not listed here is an error, not ignored.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';

const WITH_VALUE = new Set(['-h', '-p', '-t', '-m', '-f', '-q', '-V', '-C', '-W', '-F', '-i', '-u', '-P']);
const FLAGS = new Set(['-l', '-n', '-r', '-v', '-R', '-d']);

/** The options of one command line, as mosquitto_pub/_sub read them. */
export function parseArgs(argv) {
  const o = { host: 'localhost', port: 1883, topics: [], qos: 0, flags: new Set(), props: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-D') {
      // -D COMMAND PROPERTY VALUE: the MQTT 5 properties the tests set.
      const [cmd, prop, value] = argv.slice(i + 1, i + 4);
      if (cmd !== 'publish' || !['response-topic', 'correlation-data'].includes(prop ?? '') || value === undefined)
        throw new Error(`mqtt-cli: -D ${cmd} ${prop} is not supported`);
      o.props[prop === 'response-topic' ? 'responseTopic' : 'correlationData'] = prop === 'response-topic' ? value : Buffer.from(value);
      i += 3;
      continue;
    }
    if (FLAGS.has(a)) {
      o.flags.add(a);
      continue;
    }
    if (!WITH_VALUE.has(a) || i + 1 >= argv.length) throw new Error(`mqtt-cli: option ${a} is not supported`);
    const v = argv[++i];
    if (a === '-h') o.host = v;
    else if (a === '-p') o.port = Number(v);
    else if (a === '-t') o.topics.push(v);
    else if (a === '-m') o.message = v;
    else if (a === '-f') o.file = v;
    else if (a === '-q') o.qos = Number(v);
    else if (a === '-V') o.protocolVersion = { mqttv5: 5, 5: 5, mqttv311: 4, 311: 4, mqttv31: 3, 31: 3 }[v];
    else if (a === '-C') o.count = Number(v);
    else if (a === '-W') o.timeoutS = Number(v);
    else if (a === '-F') o.format = v;
    else if (a === '-i') o.clientId = v;
    else if (a === '-u') o.username = v;
    else if (a === '-P') o.password = v;
  }
  return o;
}

function connect(o) {
  return mqtt.connectAsync(`mqtt://${o.host}:${o.port}`, {
    protocolVersion: o.protocolVersion ?? 4,
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    ...(o.clientId ? { clientId: o.clientId } : {}),
    ...(o.username ? { username: o.username } : {}),
    ...(o.password ? { password: o.password } : {}),
  });
}

/** mosquitto_pub: resolves with its exit status and what it wrote to stderr. */
export async function pub(argv, input = '') {
  let client;
  try {
    const o = parseArgs(argv);
    if (o.topics.length !== 1) throw new Error('mqtt-cli: pub needs one -t');
    let messages;
    if (o.flags.has('-l')) messages = input.split('\n').filter((l) => l !== '');
    else if (o.flags.has('-n')) messages = [''];
    else if (o.file !== undefined) messages = [readFileSync(o.file)];
    else if (o.message !== undefined) messages = [o.message];
    else throw new Error('mqtt-cli: pub needs -m, -f, -l or -n');
    client = await connect(o);
    const properties = Object.keys(o.props).length ? { properties: o.props } : {};
    // In order, as mosquitto_pub sends them; each QoS 1 message is acknowledged before it exits.
    for (const m of messages) await client.publishAsync(o.topics[0], m, { qos: o.qos, retain: o.flags.has('-r'), ...properties });
    await client.endAsync();
    return { status: 0, stderr: '' };
  } catch (e) {
    client?.end(true);
    return { status: 1, stderr: `Error: ${e.message}\n` };
  }
}

function formatted(format, topic, payload, packet) {
  return format.replace(/%([tpqr%])/g, (_, c) =>
    c === 't' ? topic : c === 'p' ? payload.toString() : c === 'q' ? String(packet.qos) : c === 'r' ? (packet.retain ? '1' : '0') : '%',
  );
}

/** mosquitto_sub: writes what it prints to `write`; resolves with its exit status (27 when -W ran out, as mosquitto_sub). */
export async function sub(argv, write) {
  const o = parseArgs(argv);
  if (o.format && /%[^tpqr%]/.test(o.format)) throw new Error(`mqtt-cli: -F ${o.format} is not supported`);
  const client = await connect(o);
  let received = 0;
  let finish;
  const done = new Promise((resolve) => {
    finish = resolve;
  });
  const timer = o.timeoutS ? setTimeout(() => finish(27), o.timeoutS * 1000) : undefined;
  client.on('message', (topic, payload, packet) => {
    if (o.flags.has('-R') && packet.retain) return;
    write(
      `${o.format ? formatted(o.format, topic, payload, packet) : o.flags.has('-v') ? `${topic} ${payload.toString()}` : payload.toString()}\n`,
    );
    if (o.count && ++received >= o.count) finish(0);
  });
  client.on('close', () => finish(1));
  await client.subscribeAsync(o.topics, { qos: o.qos });
  if (o.flags.has('-d')) write(`Client ${client.options.clientId} received SUBACK\n`);
  const status = await done;
  clearTimeout(timer);
  if (status === 27) write('Timed out\n');
  client.removeAllListeners('close');
  await client.endAsync(true);
  return status;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [tool, ...argv] = process.argv.slice(2);
  if (tool === 'pub') {
    const chunks = [];
    if (argv.includes('-l')) for await (const c of process.stdin) chunks.push(c);
    const r = await pub(argv, Buffer.concat(chunks).toString());
    process.stderr.write(r.stderr);
    process.exitCode = r.status;
  } else if (tool === 'sub') {
    process.exitCode = await sub(argv, (s) => process.stdout.write(s));
  } else {
    process.stderr.write('usage: mqtt-cli.mjs pub|sub ARGS…\n');
    process.exitCode = 2;
  }
}
