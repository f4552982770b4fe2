import { describe, expect, it } from 'vitest';
import { MAX_ID_LENGTH, MAX_TIMEOUT_MS, parsePayload } from '../../src/agent/payload.js';
import { commandSubscriptions, parseCommandTopic } from '../../src/agent/topics.js';

const t = { base: 'dev2mqtt', node: 'pi-17', groups: ['kitchen'] };

describe('topics', () => {
  it('subscribes to device and node commands, and to its groups', () => {
    expect(commandSubscriptions(t)).toEqual([
      'dev2mqtt/pi-17/+/cmd/+',
      'dev2mqtt/pi-17/cmd/+',
      'dev2mqtt/group/kitchen/+/cmd/+',
      'dev2mqtt/group/kitchen/cmd/+',
    ]);
  });

  it('reads what a topic addresses', () => {
    expect(parseCommandTopic(t, 'dev2mqtt/pi-17/led0/cmd/set')).toEqual({ scope: 'device', device: 'led0', validId: true, command: 'set' });
    expect(parseCommandTopic(t, 'dev2mqtt/pi-17/cmd/ping')).toEqual({ scope: 'node', command: 'ping' });
    expect(parseCommandTopic(t, 'dev2mqtt/group/kitchen/led0/cmd/set')).toEqual({
      scope: 'device',
      device: 'led0',
      validId: true,
      command: 'set',
      group: 'kitchen',
    });
    expect(parseCommandTopic(t, 'dev2mqtt/group/kitchen/cmd/ping')).toEqual({ scope: 'node', command: 'ping', group: 'kitchen' });
    expect(parseCommandTopic(t, 'dev2mqtt/pi-17/../cmd/x')).toMatchObject({ device: '..', validId: false });
  });

  it('a device segment of 64 characters is a device id, one of 65 is not', () => {
    expect(parseCommandTopic(t, `dev2mqtt/pi-17/${'d'.repeat(64)}/cmd/get`)).toMatchObject({ validId: true });
    expect(parseCommandTopic(t, `dev2mqtt/pi-17/${'d'.repeat(65)}/cmd/get`)).toMatchObject({ validId: false });
  });

  it('ignores what is not a command of this node', () => {
    for (const topic of [
      'dev2mqtt/pi-18/led0/cmd/set',
      'dev2mqtt/group/hall/cmd/ping',
      'dev2mqtt/pi-17/led0/state',
      'other/pi-17/cmd/ping',
      'dev2mqtt/pi-17/a/b/cmd/x',
      'dev2mqtt/pi-17/cmd/',
    ]) {
      expect(parseCommandTopic(t, topic), topic).toBeNull();
    }
  });
});

describe('payloads', () => {
  const p = (s: string | Buffer) => parsePayload(typeof s === 'string' ? Buffer.from(s) : s, 1024);

  it('empty is no arguments', () => expect(p('')).toEqual({ ok: true, command: { args: {} } }));
  it('a JSON object is the arguments, with id, expiresAt and timeoutMs taken out', () => {
    expect(p('{"id":"42","state":"ON","timeoutMs":500,"expiresAt":"2030-01-01T00:00:00Z"}')).toEqual({
      ok: true,
      command: { args: { state: 'ON' }, id: '42', timeoutMs: 500, expiresAt: Date.parse('2030-01-01T00:00:00Z') },
    });
  });
  it('anything else is {value}', () => {
    expect(p('ON')).toEqual({ ok: true, command: { args: { value: 'ON' } } });
    expect(p('off')).toEqual({ ok: true, command: { args: { value: 'off' } } });
    expect(p('128')).toEqual({ ok: true, command: { args: { value: 128 } } });
    expect(p('"text"')).toEqual({ ok: true, command: { args: { value: 'text' } } });
    expect(p('true')).toEqual({ ok: true, command: { args: { value: true } } });
  });
  it('a numeric id is echoed as a string', () => expect(p('{"id":7}')).toMatchObject({ ok: true, command: { id: '7' } }));
  it('refuses arrays, null, broken JSON, bad UTF-8 and oversize payloads', () => {
    expect(p('[1]')).toMatchObject({ ok: false, code: 'bad_payload' });
    expect(p('null')).toMatchObject({ ok: false, code: 'bad_payload' });
    expect(p('{"a":')).toMatchObject({ ok: false, code: 'bad_payload' });
    expect(p(Buffer.from([0xc3, 0x28]))).toMatchObject({ ok: false, code: 'bad_payload' });
    expect(p('x'.repeat(1025))).toMatchObject({ ok: false, code: 'too_large' });
  });
  it('takes a payload of exactly the limit; one byte more is too_large', () => {
    const atLimit = `{"value":"${'v'.repeat(1024 - '{"value":""}'.length)}"}`;
    expect(Buffer.byteLength(atLimit)).toBe(1024);
    expect(p(atLimit)).toMatchObject({ ok: true, command: { args: { value: expect.any(String) } } });
    expect(p(`${atLimit} `)).toMatchObject({ ok: false, code: 'too_large', message: expect.stringMatching(/1025 bytes .* limit of 1024/) });
  });
  it('echoes the id of a too_large payload when it is the first member, read without parsing the rest', () => {
    const big = (head: string): ReturnType<typeof p> => p(`${head}"data":"${'d'.repeat(2000)}"}`);
    expect(big('{"id":"nr-1",')).toEqual({ ok: false, code: 'too_large', message: expect.any(String), id: 'nr-1' });
    expect(big(' {\n  "id" : 42 ,')).toMatchObject({ code: 'too_large', id: '42' });
    expect(big('{"id":"a\\"b\\u00e9",')).toMatchObject({ code: 'too_large', id: 'a"bé' });
    const longest = 'i'.repeat(MAX_ID_LENGTH);
    expect(big(`{"id":"${'\\u0069'.repeat(MAX_ID_LENGTH)}",`)).toMatchObject({ code: 'too_large', id: longest });
    // Not the object's first member, not a usable id, or not JSON: the agent makes one up, as for any payload without one.
    for (const head of [
      '{"data2":1,"id":"later",',
      '{"x":{"id":"nested"},',
      `{"id":"${longest}i",`,
      '{"id":"",',
      '{"id":null,',
      '{"id":"x"',
      'id=7 ',
    ]) {
      const r = big(head);
      expect(r, head).toMatchObject({ ok: false, code: 'too_large' });
      expect(r, head).not.toHaveProperty('id');
    }
  });
  it('echoes the head id of a too_large payload only where parsing the payload would read the same id', () => {
    const tail = Buffer.from(`,"data":"${'d'.repeat(2000)}"}`);
    const big = (...head: (string | number[])[]): ReturnType<typeof p> =>
      p(Buffer.concat([...head.map((h) => (typeof h === 'string' ? Buffer.from(h) : Buffer.from(h))), tail]));
    // As the parser reads them: a BOM before the object, an id of 128 UTF-16 units in 4-byte characters,
    // a character cut by the head's end after the id.
    expect(big('\uFEFF{"id":"bom"')).toMatchObject({ code: 'too_large', id: 'bom' });
    expect(big(`{"id":"${'😀'.repeat(MAX_ID_LENGTH / 2)}"`)).toMatchObject({ code: 'too_large', id: '😀'.repeat(MAX_ID_LENGTH / 2) });
    expect(big(`{"id":"cut","x":"${'x'.repeat(1024 - 17 - 1)}`, [0xe2, 0x82, 0xac])).toMatchObject({ code: 'too_large', id: 'cut' });
    // Not as the parser reads them: bytes that are not UTF-8 in the id (the decoder would make them U+FFFD, an id
    // the sender never sent), and whitespace JSON does not allow between tokens.
    for (const head of [['{"id":"a', [0xff], '"'], ['{"id":"', [0xc3], '"'], ['{\u00A0"id":"nbsp"'], ['{"id"\u2028:"ls"']]) {
      const r = big(...head);
      expect(r, JSON.stringify(head)).toMatchObject({ ok: false, code: 'too_large' });
      expect(r, JSON.stringify(head)).not.toHaveProperty('id');
    }
    // Bad bytes in a payload of its own memory, shorter than what they decode to.
    const own = new Uint8Array([...Buffer.from('{"id":"'), 0xff, 0xff, 0xff, ...Buffer.from('"}')]);
    expect(parsePayload(own, 4)).toEqual({ ok: false, code: 'too_large', message: expect.any(String) });
  });
  it(`takes an id of exactly ${MAX_ID_LENGTH} characters; one more, or none, is bad_payload`, () => {
    const id = 'i'.repeat(MAX_ID_LENGTH);
    expect(MAX_ID_LENGTH).toBe(128);
    expect(p(JSON.stringify({ id }))).toMatchObject({ ok: true, command: { id } });
    expect(p(JSON.stringify({ id: `${id}i` }))).toMatchObject({ ok: false, code: 'bad_payload' });
    expect(p('{"id":""}')).toMatchObject({ ok: false, code: 'bad_payload' });
  });
  it('takes timeoutMs from 1 ms to a day; 0 and a day plus 1 ms are bad_args', () => {
    expect(MAX_TIMEOUT_MS).toBe(86_400_000);
    expect(p('{"timeoutMs":1}')).toMatchObject({ ok: true, command: { timeoutMs: 1 } });
    expect(p(`{"timeoutMs":${MAX_TIMEOUT_MS}}`)).toMatchObject({ ok: true, command: { timeoutMs: MAX_TIMEOUT_MS } });
    expect(p('{"timeoutMs":0}')).toMatchObject({ ok: false, code: 'bad_args' });
    expect(p(`{"timeoutMs":${MAX_TIMEOUT_MS + 1}}`)).toMatchObject({ ok: false, code: 'bad_args' });
  });
  it('takes an expiresAt up to the last instant a Date holds (8.64e15 ms); one ms later is bad_args', () => {
    expect(p('{"expiresAt":8640000000000000}')).toMatchObject({ ok: true, command: { expiresAt: 8.64e15 } });
    expect(p('{"expiresAt":8640000000000001}')).toMatchObject({ ok: false, code: 'bad_args' });
    expect(p('{"expiresAt":-8640000000000000}')).toMatchObject({ ok: true });
    expect(p('{"expiresAt":-8640000000000001}')).toMatchObject({ ok: false, code: 'bad_args' });
  });
  it('keeps the id of a payload refused for another reason, so the result can echo it', () => {
    expect(p('{"id":"k","timeoutMs":0}')).toMatchObject({ ok: false, code: 'bad_args', id: 'k' });
  });
  it('survives very deep nesting', () => {
    const deep = `${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`;
    const r = parsePayload(Buffer.from(deep), 10_000_000);
    expect(r.ok === false ? r.code : 'ok').toMatch(/bad_payload|ok/);
  });
  it('a __proto__ key stays a plain key', () => {
    const r = p('{"__proto__":{"polluted":1}}');
    expect(r.ok && Object.keys(r.command.args)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
