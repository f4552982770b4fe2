/**
 * The template check itself: Jinja (through ha_templates.py) must render
 * what Home Assistant renders and flag what HA would warn about or refuse,
 * or the discovery tests that lean on it prove nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HaTemplates, haveJinja, jinjaPython } from '../helpers/ha-templates.js';
import { stateProblems } from '../helpers/ha-state.js';

const state = JSON.stringify({ value: 1, on: true, name: 'ACT', brightness: 128, lines: { cts: false }, signal: null, s: 'x', n: '42' });

describe.skipIf(!haveJinja())('Home Assistant templates, rendered by Jinja', () => {
  let t: HaTemplates;
  beforeAll(() => {
    t = HaTemplates.start();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('uses a Python that imports jinja2', () => {
    expect(jinjaPython()).toMatchObject({ python: expect.any(String) as string, versions: expect.stringMatching(/^\d+\.\d+/) as string });
  });

  it.each([
    ['{{ value_json.value }}', '1'],
    ['{{ value_json.on }}', 'True'],
    ['{{ value_json.signal }}', 'None'],
    ["{{ 'ON' if value_json.lines.cts else 'OFF' }}", 'OFF'],
    ['{{ value_json.signal.dbm if value_json.signal is mapping else None }}', 'None'],
    ['{{ value_json.n | int + 1 }}', '43'],
    ['{{ value_json.s | int(0) }}', '0'],
    ['{{ value_json.brightness / 255 * 100 | round }}', '50.19607843137255'],
    ['{{ (value_json.brightness / 255 * 100) | round }}', '50'],
    ["{{ value_json.nope | default('x') }}", 'x'],
    ['{{ value_json.n is is_number }}', 'True'],
    ['{{ (value | from_json).name }}', 'ACT'],
    ['  {{- value_json.value -}}  ', '1'],
  ])('%s → %s', async (template, out) => {
    expect(await t.value(template, state)).toEqual({ output: out, error: null, warnings: [] });
  });

  it('warns where HA logs a template variable warning, and still renders', async () => {
    expect(await t.value('{{ value_json.missing }}', state)).toMatchObject({ output: '', warnings: [expect.stringContaining('missing')] });
    expect((await t.value('{% if value_json.missing %}x{% endif %}', state)).warnings).toHaveLength(1);
    // A comparison asks nothing of the undefined value: no warning, as in HA.
    expect(await t.value("{{ 'ON' if value_json.missing == 1 else 'OFF' }}", state)).toEqual({ output: 'OFF', error: null, warnings: [] });
  });

  it.each([
    ['{{ value_json.missing.deeper }}', /UndefinedError/],
    ['{{ value_json.s | int }}', /int got invalid input 'x' but no default/],
    ['{{ value_json.s | float }}', /float got invalid input/],
    ['{{ value_json.missing | is_defined }}', /UndefinedError/],
    ['{{ value_json.value | nosuch }}', /No filter named 'nosuch'/],
    ['{% if value_json.on %}x', /TemplateSyntaxError/],
  ])('fails %s as HA does', async (template, error) => {
    const r = await t.value(template, state);
    expect(r.output).toBeNull();
    expect(r.error).toMatch(error);
  });

  it('has value_json only for JSON payloads', async () => {
    expect(await t.value('{{ value }}', 'not json')).toMatchObject({ output: 'not json', error: null });
    expect((await t.value('{{ value_json.x }}', 'not json')).error).toMatch(/UndefinedError/);
  });

  it('refuses attributes that are not a JSON object', async () => {
    expect((await t.render({ mode: 'attributes', template: '{{ [1] | tojson }}', payload: state })).error).toMatch(/not a dictionary/);
    expect((await t.render({ mode: 'attributes', template: '{{ {"a": 1} | tojson }}', payload: state })).error).toBeNull();
  });

  it('judges states as the platforms do', async () => {
    const bs = { state_topic: 's', value_template: '{{ value_json.x }}', payload_on: 'ON', payload_off: 'OFF' };
    expect((await stateProblems(t, 'binary_sensor', bs, '{"x":"ON"}')).problems).toEqual([]);
    expect((await stateProblems(t, 'binary_sensor', bs, '{"x":null}')).value).toBe('None');
    expect((await stateProblems(t, 'binary_sensor', bs, '{"x":"on"}')).problems).toEqual([expect.stringContaining("renders 'on'")]);
    const num = { state_topic: 's', value_template: '{{ value_json.x }}', unit_of_measurement: 'B' };
    expect((await stateProblems(t, 'sensor', num, '{"x":null}')).problems).toEqual([]);
    expect((await stateProblems(t, 'sensor', num, '{"x":"a"}')).problems).toEqual(["numeric sensor renders 'a'"]);
    const text = { state_topic: 's', value_template: '{{ value_json.x }}' };
    expect((await stateProblems(t, 'sensor', text, '{"x":null}')).problems).toEqual([expect.stringContaining('text sensor')]);
    const pct = { state_topic: 's', command_topic: 'c', value_template: '{{ value_json.x }}', min: 0, max: 100 };
    expect(await stateProblems(t, 'number', pct, '{"x":0}')).toEqual({ value: '0', problems: [] });
    expect((await stateProblems(t, 'number', pct, '{"x":null}')).problems).toEqual([]);
    expect((await stateProblems(t, 'number', pct, '{"x":101}')).problems).toEqual(['number 101 outside 0..100']);
    expect((await stateProblems(t, 'number', { ...pct, min: undefined }, '{"x":0}')).problems).toEqual(['number 0 outside 1..100']);
    expect((await stateProblems(t, 'number', pct, '{"x":"half"}')).problems).toEqual(["number renders 'half', not a number"]);
    const ev = {
      state_topic: 'e',
      event_types: ['press'],
      value_template: '{% if value_json.t %}{"event_type":"{{ value_json.t }}"}{% endif %}',
    };
    expect(await stateProblems(t, 'event', ev, '{"t":"press"}')).toEqual({ value: 'press', problems: [] });
    expect(await stateProblems(t, 'event', ev, '{"t":""}')).toEqual({ value: '', problems: [] });
    expect((await stateProblems(t, 'event', ev, '{"t":"hold"}')).problems).toEqual([expect.stringContaining("'hold' not in press")]);
  });
});
