"""Render Home Assistant MQTT templates with Jinja itself, the way HA does.

The tests (test/helpers/ha-templates.ts) send one JSON request per line on
stdin and read one JSON answer per line on stdout:

  {"id": 1, "mode": "value", "template": "{{ value_json.x }}", "payload": "{\"x\": 1}"}
  {"id": 1, "output": "1", "warnings": [], "error": null}

What it mirrors of Home Assistant (helpers/template and mqtt/models, as read
for this project): a sandboxed immutable environment with the `do` and
`loopcontrols` extensions; an undefined value that HA logs as a warning when
it is printed, iterated or tested for truth, and as an error (the render
fails) when anything else is asked of it; the filters and tests HA adds that
the agent's templates may use (from_json, to_json, int and float that refuse
bad input without a default, is_defined, round, is_number); value templates
see `value` (the payload) and `value_json` (only when the payload is JSON),
and their output is stripped; command templates see `value`.

Modes: "value" (value_template), "attributes" (json_attributes_template: the
output must be a JSON object), "command" (command_template).
"""

import json
import math
import sys

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

MISSING = object()
log = []


class HaUndefined(jinja2.Undefined):
    """Records what Home Assistant's logging undefined would log."""

    def _fail_with_undefined_error(self, *args, **kwargs):
        try:
            return super()._fail_with_undefined_error(*args, **kwargs)
        except self._undefined_exception:
            log.append(("error", self._undefined_message))
            raise

    def __str__(self):
        log.append(("warning", self._undefined_message))
        return super().__str__()

    def __iter__(self):
        log.append(("warning", self._undefined_message))
        return super().__iter__()

    def __bool__(self):
        log.append(("warning", self._undefined_message))
        return super().__bool__()


def refuse(name, value):
    raise ValueError(f"{name} got invalid input '{value}' but no default was specified")


def int_filter(value, default=MISSING, base=10):
    result = jinja2.filters.do_int(value, default=default, base=base)
    if result is MISSING:
        refuse("int", value)
    return result


def float_filter(value, default=MISSING):
    try:
        return float(value)
    except (TypeError, ValueError):
        if default is MISSING:
            refuse("float", value)
        return default


def is_number(value):
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number)


def is_defined(value):
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    return value


def round_filter(value, precision=0, method="common", default=MISSING):
    try:
        scale = 10**precision
        if method == "ceil":
            value = math.ceil(float(value) * scale) / scale
        elif method == "floor":
            value = math.floor(float(value) * scale) / scale
        elif method == "half":
            value = round(float(value) * 2) / 2
        else:
            value = round(float(value), precision)
        return int(value) if precision == 0 else value
    except (TypeError, ValueError):
        if default is MISSING:
            refuse("round", value)
        return default


def environment():
    env = ImmutableSandboxedEnvironment(
        undefined=HaUndefined, extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"]
    )
    env.filters.update(
        {
            "from_json": json.loads,
            "to_json": lambda v: json.dumps(v, separators=(",", ":")),
            "int": int_filter,
            "float": float_filter,
            "is_defined": is_defined,
            "round": round_filter,
            "is_number": is_number,
        }
    )
    env.tests["is_number"] = is_number
    env.globals.update({"int": int_filter, "float": float_filter, "is_number": is_number})
    return env


ENV = environment()


def render(request):
    del log[:]
    mode = request.get("mode", "value")
    variables = {"entity_id": request.get("entityId", "sensor.test")}
    if mode == "command":
        variables["value"] = request.get("value")
    else:
        payload = request.get("payload", "")
        variables["value"] = payload
        try:
            variables["value_json"] = json.loads(payload)
        except ValueError:
            pass
    try:
        output = ENV.from_string(request["template"]).render(**variables)
    except Exception as e:  # HA logs it and drops the message
        return {"output": None, "error": f"{type(e).__name__}: {e}"}
    if mode != "command":
        output = output.strip()
    error = None
    if mode == "attributes":
        try:
            if not isinstance(json.loads(output), dict):
                error = "JSON result was not a dictionary"
        except ValueError:
            error = f"Erroneous JSON: {output}"
    return {"output": output, "error": error}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        answer = render(request)
        answer["id"] = request.get("id")
        answer["warnings"] = [message for level, message in log if level == "warning"]
        answer["errors"] = [message for level, message in log if level == "error"]
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
