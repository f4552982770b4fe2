// The `match result` function node of the dev2mqtt command subflow.
// In: every message of the reply listener: the agents' result topics
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
const id = viaReplyTopic && msg.correlationData !== undefined ? String(msg.correlationData) : result.id;
const p = typeof id === 'string' ? s.pending.get(id) : undefined;

let unsubscribe = null;
// The agent that replied: the command's, or for the second copy of a result already matched on
// a result topic, the one it was sent to (never what the record says: anyone may write it).
const replier = p ? p.node : viaReplyTopic ? s.copies.get(id) : undefined;
if (viaReplyTopic) s.copies.delete(id);
if (viaReplyTopic && msg.correlationData !== undefined && typeof replier === 'string' && !s.v5.has(replier)) {
  // The broker and this agent both speak MQTT 5: its replies come to our own topic from now on.
  // Only this agent's: another on the same broker may still answer on its result topics only.
  s.v5.add(replier);
  if (s.listening.delete(replier)) {
    unsubscribe = { action: 'unsubscribe', topic: [`${s.base}/${replier}/+/result`, `${s.base}/${replier}/result`] };
  }
  node.status(s.status());
}
const fromAgent = viaReplyTopic || msg.topic === `${s.base}/${p?.node}/${p?.device === undefined ? '' : `${p.device}/`}result`;
if (!p || !fromAgent || result.command !== p.command || (p.device !== undefined && result.device !== p.device)) {
  return [null, null, unsubscribe];
}
s.pending.delete(id);
if (!viaReplyTopic && !s.v5.has(p.node)) {
  // Its copy on the response topic, if the agent speaks MQTT 5, tells us so.
  s.copies.set(id, p.node);
  if (s.copies.size > 100) s.copies.delete(s.copies.keys().next().value);
}

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
