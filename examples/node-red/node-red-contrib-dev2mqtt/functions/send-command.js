// The `send command` function node of the dev2mqtt command subflow.
// In: a command: msg.node (else the subflow's Node property), msg.device (none
// for a node command), msg.command, msg.payload (the arguments), msg.timeout
// (ms, else the Timeout property); or the `mqtt out` node's status, from the
// `connection` status node.
// Out 1: subscribe actions for the reply listener (sent before the publish, so
// the subscription is on the wire first); out 2: commands, to `mqtt out`;
// out 3: errors found here (bad input, and `timeout` later, from the timer).
//
// Every command carries an id in its payload and, for MQTT 5, a Response Topic
// and that id as Correlation Data (the mqtt out node drops both on 3.1.1).
// Until an agent has replied on the response topic, its result topics are
// listened to as well; see match-result.js. This is learnt per agent: on one
// MQTT 5 broker an agent on mqtt.protocolVersion 4, or behind a 3.1.1 bridge,
// never gets the Response Topic and answers on its result topics only.
//
// Node-RED drops what mqtt out is given while its broker is down, so commands
// made while the connection is known to be down wait here for it (within their
// timeout). Before the first status arrives the state is unknown: a command
// then goes out at once (Node-RED gives no way to ask).

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_ID_LENGTH = 128;
const DEFAULT_TIMEOUT_MS = 10000;
// setTimeout's limit; longer waits belong in a scheduler, not a command.
const MAX_TIMEOUT_MS = 2147483647;

const base = env.get('BASE_TOPIC') || 'dev2mqtt';

/** The state the function nodes of this subflow instance share (flow context is per instance). */
function state() {
  let s = flow.get('dev2mqtt');
  // A persistent context store would hand back what JSON kept of a Map: start afresh then.
  if (!s || typeof s.pending?.get !== 'function') {
    const tag = RED.util.generateId();
    s = {
      base,
      /** id → the command in flight: its input message and address. */
      pending: new Map(),
      /** Commands held while the broker connection is down: [{id, publish, deadline}]. */
      queued: [],
      connection: 'unknown',
      /** Agent nodes whose result topics the listener is subscribed to (until their MQTT 5 replies are seen). */
      listening: new Set(),
      /** Agent nodes that have answered on the response topic: listened to there only. */
      v5: new Set(),
      /** id → agent of the latest commands matched on a result topic, whose MQTT 5 copy may follow. */
      copies: new Map(),
      replyTopic: `replies/node-red/${tag}`,
      replySubscribed: false,
      tag,
      seq: 0,
      /** What the subflow instance shows under it. */
      status() {
        if (this.connection === 'down') {
          return { fill: 'red', shape: 'ring', text: `disconnected · ${this.queued.length} waiting` };
        }
        const mode = this.v5.size === 0 ? 'result topics' : this.listening.size === 0 ? 'MQTT 5 replies' : 'MQTT 5 replies + result topics';
        const n = this.pending.size;
        return { fill: n ? 'blue' : 'green', shape: 'dot', text: `${n ? `${n} in flight` : 'idle'} · ${mode}` };
      },
    };
    flow.set('dev2mqtt', s);
  }
  return s;
}

function fail(code, message, address) {
  msg.payload = { code, message };
  msg.dev2mqtt = { ...address, ok: false, error: msg.payload };
  return [null, null, msg];
}

/** The contract's payload rules, as an object the id can join: empty → {}, object → args, scalar → {value}. */
function argsOf(payload) {
  if (payload === undefined || payload === null) return {};
  if (Buffer.isBuffer(payload)) payload = payload.toString('utf8');
  if (typeof payload === 'string') {
    const text = payload.trim();
    if (text === '') return {};
    try {
      payload = JSON.parse(text);
    } catch {
      if (text.startsWith('{') || text.startsWith('[')) return 'msg.payload is not valid JSON';
      return { value: text };
    }
  }
  if (Array.isArray(payload) || payload === null) return 'msg.payload must be an object or a single value, not an array or null';
  if (typeof payload !== 'object') return { value: payload };
  return { ...payload };
}

const s = state();

if (msg.status?.source?.type === 'mqtt out' && msg.command === undefined) {
  // mqtt out reports `node-red:common.status.connected` (or …disconnected, …connecting).
  const up = /\.connected$/.test(String(msg.status.text));
  s.connection = up ? 'up' : 'down';
  // What waited goes out with what is left of its wait as its MQTT 5 expiry, so it cannot run after its timeout.
  const release = up
    ? s.queued.map((q) => ({ ...q.publish, messageExpiryInterval: Math.max(1, Math.ceil((q.deadline - Date.now()) / 1000)) }))
    : [];
  if (up) s.queued = [];
  node.status(s.status());
  return release.length ? [null, release, null] : null;
}

const agent = msg.node === undefined || msg.node === '' ? env.get('NODE_ID') : msg.node;
const device = msg.device === undefined || msg.device === null || msg.device === '' ? undefined : msg.device;
const command = msg.command;
const address = { node: agent, ...(device === undefined ? {} : { device }), command };

if (typeof agent !== 'string' || !ID.test(agent)) {
  return fail('bad_payload', `msg.node (or the subflow's Node property) must be an agent's node id, got ${JSON.stringify(agent)}`, address);
}
if (device !== undefined && (typeof device !== 'string' || !ID.test(device))) {
  return fail('unknown_device', `'${String(device)}' is not a valid device id`, address);
}
if (typeof command !== 'string' || !/^[^/+#\s]{1,64}$/.test(command)) {
  return fail('unknown_command', `msg.command must name a command, got ${JSON.stringify(command)}`, address);
}
const args = argsOf(msg.payload);
if (typeof args === 'string') return fail('bad_payload', args, address);

let id;
if (Object.hasOwn(args, 'id')) {
  // The caller's own id is used as given (the agent answers a QoS redelivery of it from its journal).
  id = typeof args.id === 'number' && Number.isFinite(args.id) ? String(args.id) : args.id;
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) {
    return fail('bad_payload', `"id" must be a string of 1 to ${MAX_ID_LENGTH} characters`, address);
  }
  if (s.pending.has(id)) return fail('bad_payload', `a command with id "${id}" is already in flight`, { ...address, id });
} else {
  s.seq += 1;
  // Unguessable, not only unique: every agent sent a command learns our response topic and that
  // command's id, and may write under replies/; with counted ids it could answer for the next
  // command, sent to another agent.
  id = `nr-${s.tag}-${s.seq}-${RED.util.generateId()}`;
}
delete args.id;

const requested = Number(msg.timeout);
const fallback = Number(env.get('TIMEOUT_MS'));
const timeoutMs = Math.min(requested > 0 ? requested : fallback > 0 ? fallback : DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);

const subscribe = [];
if (!s.replySubscribed) {
  subscribe.push({ topic: s.replyTopic, qos: 1 });
  s.replySubscribed = true;
}
if (!s.v5.has(agent) && !s.listening.has(agent)) {
  subscribe.push({ topic: `${base}/${agent}/+/result`, qos: 1 }, { topic: `${base}/${agent}/result`, qos: 1 });
  s.listening.add(agent);
}

const publish = {
  topic: device === undefined ? `${base}/${agent}/cmd/${command}` : `${base}/${agent}/${device}/cmd/${command}`,
  // The id first: an agent reads it from the head of a payload too large to parse, so that its
  // too_large result carries it too (on MQTT 3.1.1 the id is all a result is matched by).
  payload: JSON.stringify({ id, ...args }),
  // MQTT 5 only (mqtt out leaves them out on 3.1.1): the reply comes to our topic with our id,
  // and a command still undelivered when we stop waiting (rounded up to whole seconds) is
  // dropped rather than run late.
  responseTopic: s.replyTopic,
  correlationData: Buffer.from(id),
  messageExpiryInterval: Math.ceil(timeoutMs / 1000),
};

s.pending.set(id, { msg, ...address, id });
setTimeout(() => {
  const p = s.pending.get(id);
  if (!p) return;
  s.pending.delete(id);
  // Silence may mean the agent no longer speaks MQTT 5 (reconfigured, now behind a 3.1.1 bridge):
  // its next command listens on its result topics again, until it replies on the response topic.
  s.v5.delete(agent);
  const unsent = s.queued.some((q) => q.id === id);
  // A command never sent must not go out later: the caller has been told it failed.
  s.queued = s.queued.filter((q) => q.id !== id);
  const message = unsent
    ? `not sent: no broker connection within ${timeoutMs} ms`
    : `no result within ${timeoutMs} ms (is the agent '${agent}' online?)`;
  p.msg.payload = { code: 'timeout', message };
  p.msg.dev2mqtt = { ...address, id, ok: false, error: p.msg.payload };
  node.send([null, null, p.msg]);
  node.status(s.status());
}, timeoutMs);

if (s.connection === 'down') {
  s.queued.push({ id, publish, deadline: Date.now() + timeoutMs });
  node.status(s.status());
  return [subscribe.length ? { action: 'subscribe', topic: subscribe } : null, null, null];
}
node.status(s.status());
return [subscribe.length ? { action: 'subscribe', topic: subscribe } : null, publish, null];
