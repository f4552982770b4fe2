// The `match result` function node of the dev2mqtt command subflow.
// In: every message of the reply listener: the agent's result topics
// ({base}/{node}/+/result, {base}/{node}/result) and this instance's response
// topic (MQTT 5). Out 1: ok (payload = result); out 2: error (payload = error);
// out 3: unsubscribe actions for the listener.
//
// A result belongs to the command in flight whose id it carries: the MQTT 5
// Correlation Data on the response topic, else the id the agent echoes. It
// must also name that command (and device) and, on a result topic, come from
// that agent; anything else (a late result after a timeout, the second copy
// of a reply, someone else's command) is dropped.

const s = flow.get('dev2mqtt');
if (!s || typeof s.pending?.get !== 'function') return null;

let result;
try {
  result = JSON.parse(Buffer.isBuffer(msg.payload) ? msg.payload.toString('utf8') : String(msg.payload));
} catch {
  return null;
}
if (!result || typeof result !== 'object') return null;

const viaReplyTopic = msg.topic === s.replyTopic;
let unsubscribe = null;
if (viaReplyTopic && msg.correlationData !== undefined && !s.v5) {
  // The broker and the agent both speak MQTT 5: replies come to our own topic from now on.
  s.v5 = true;
  const topics = [...s.listening].flatMap((agent) => [`${s.base}/${agent}/+/result`, `${s.base}/${agent}/result`]);
  s.listening.clear();
  if (topics.length) unsubscribe = { action: 'unsubscribe', topic: topics };
}

const id = viaReplyTopic && msg.correlationData !== undefined ? String(msg.correlationData) : result.id;
const p = typeof id === 'string' ? s.pending.get(id) : undefined;
const fromAgent = viaReplyTopic || msg.topic === `${s.base}/${p?.node}/${p?.device === undefined ? '' : `${p.device}/`}result`;
if (!p || !fromAgent || result.command !== p.command || (p.device !== undefined && result.device !== p.device)) {
  return [null, null, unsubscribe];
}
s.pending.delete(id);

const out = p.msg;
out.dev2mqtt = { node: p.node, ...result };
node.status(s.status());
if (result.ok === true) {
  out.payload = result.result;
  return [out, null, unsubscribe];
}
out.payload =
  result.error && typeof result.error === 'object' ? result.error : { code: 'bad_payload', message: 'a result with neither ok nor error' };
return [null, out, unsubscribe];
