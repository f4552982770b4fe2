// The relay baseline: a bare MQTT.js client that echoes every command to a
// result topic through the same broker, at the same QoS, with TCP_NODELAY like
// the agent. Whatever the agent costs on top of this is the agent's.
//   node bench/relay.mjs URL BASE
import mqtt from 'mqtt';

const [url, base = 'relay'] = process.argv.slice(2);
const client = await mqtt.connectAsync(url, { clientId: `relay-${process.pid}`, reconnectPeriod: 200 });
client.stream.setNoDelay?.(true);
client.on('message', (topic, payload) => {
  // base/node/device/cmd/command → base/node/device/result
  const resultTopic = topic.replace(/\/cmd\/[^/]+$/, '/result');
  client.publish(resultTopic, payload, { qos: 1 });
});
await client.subscribeAsync(`${base}/+/+/cmd/+`, { qos: 1 });
process.send?.('ready');
process.stdout.write('ready\n');
