/**
 * The template evaluator the discovery tests rely on: it must render what
 * Home Assistant renders, and flag what HA would warn about or refuse.
 */
import { describe, expect, it } from 'vitest';
import { render } from '../helpers/jinja-eval.js';

const state = JSON.stringify({
  value: 1,
  on: true,
  name: 'ACT',
  brightness: 128,
  ratio: 0.5,
  lines: { cts: false },
  signal: null,
  list: [3, 4],
  values: 2,
});

describe('jinja subset', () => {
  it.each([
    ['{{ value_json.value }}', '1'],
    ['{{ value_json.on }}', 'True'],
    ['{{ value_json.signal }}', 'None'],
    ['{{ value_json.ratio }}', '0.5'],
    ['{{ value_json.brightness / 2 }}', '64.0'],
    ['{{ value_json.brightness // 3 }}', '42'],
    ['{{ (value_json.brightness / 255 * 100) | round }}', '50'],
    ['{{ value_json.ratio | round(1) }}', '0.5'],
    ["{{ 'ON' if value_json.value == 1 else 'OFF' }}", 'ON'],
    ["{{ 'ON' if value_json.lines.cts else 'OFF' }}", 'OFF'],
    ["{{ ('ON' if value_json.lines.cts else 'OFF') if value_json.lines is mapping else None }}", 'OFF'],
    ['{{ value_json.signal.dbm if value_json.signal is mapping else None }}', 'None'],
    ['{{ value_json.missing is defined }}', 'False'],
    ["{{ value_json['values'] }}", '2'],
    ['{{ value_json.list[1] }}', '4'],
    ['{{ value_json.list }}', '[3, 4]'],
    ["{{ 'cts' in value_json.lines }}", 'True'],
    ["{{ value_json.name ~ ':' ~ value_json.value }}", 'ACT:1'],
    ['{{ value_json.name | lower }}', 'act'],
    ["{{ value_json.nope | default('x') }}", 'x'],
    ['{{ "42" | int + 1 }}', '43'],
    ['{{ value }}', state],
    ['{% if value_json.on %}lit{% elif value_json.value %}one{% else %}dark{% endif %}', 'lit'],
    ['{% if not value_json.on %}a{% elif value_json.value == 1 %}b{% else %}c{% endif %}', 'b'],
    ['  {{- value_json.value -}}  ', '1'],
    ['{# a comment #}{{ value_json.value }}', '1'],
  ])('%s → %s', (template, out) => {
    const r = render(template, state);
    expect(r.warnings).toEqual([]);
    expect(r.output).toBe(out);
  });

  it('flags what Home Assistant logs as a template variable warning', () => {
    expect(render('{{ value_json.missing }}', state).warnings).toHaveLength(1);
    expect(render('{% if value_json.missing %}x{% endif %}', state).warnings).toHaveLength(1);
    expect(render("{{ 'ON' if value_json.missing else 'OFF' }}", state).output).toBe('OFF');
    expect(render("{{ 'ON' if value_json.missing == 1 else 'OFF' }}", state).warnings).toHaveLength(1);
    // HA logs "Error parsing value" and keeps the raw payload: an error here.
    expect(() => render('{{ value_json.value }}', 'not json')).toThrow(/not JSON/);
    expect(render('{{ value }}', 'not json').output).toBe('not json');
  });

  it.each([
    ['{{ value_json.missing.deeper }}', /UndefinedError/],
    ['{{ value_json.values }}', /dict method/],
    ['{{ value_json.name | int }}', /no default/],
    ['{{ value_json.value | nosuch }}', /no filter/],
    ['{{ value_json.value is odd }}', /no test/],
    ['{% for x in value_json.list %}{% endfor %}', /unsupported statement/],
    ['{% if value_json.on %}x', /without \{% endif %\}/],
    ['{{ value_json.value', /unbalanced/],
    ['{{ value_json.list | map("x") | list }}', /no filter|unsupported/],
  ])('refuses %s', (template, error) => {
    expect(() => render(template, state)).toThrow(error);
  });
});
