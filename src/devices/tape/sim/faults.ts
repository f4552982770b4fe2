/**
 * Fault injection for the st model: make the next N calls at a point fail
 * with an errno, or report a recovered error. Rules come from code
 * (`faults.add`) or from `faults.json` in the device's state directory, which
 * is re-read whenever it changes, so a test can break a drive inside a
 * running agent it started as a child process.
 *
 * A rule: `{"on": "read", "errno": "EIO", "times": 1}`. `on` names a point:
 * `open`, `close`, `read`, `write`, `MTIOCGET`, `MTIOCPOS`, `MTIOCTOP` (any
 * operation), an operation (`MTREW`, `MTFSF`, `MTWEOF` …) or `any`. Without
 * `times` the rule holds until cleared. `{"recovered": true}` instead of an
 * errno lets the call succeed and counts a recovered error (mt_erreg).
 */
import fs from 'node:fs';

export interface FaultRule {
  readonly on: string;
  readonly errno?: string;
  readonly recovered?: boolean;
  readonly times?: number;
}

interface Armed {
  readonly rule: FaultRule;
  left: number;
}

export type FaultHit = { readonly errno: string } | { readonly recovered: true };

export class Faults {
  #code: Armed[] = [];
  #fromFile: Armed[] = [];
  #fileStamp = '';

  constructor(readonly file?: string) {}

  add(rule: FaultRule): void {
    this.#code.push(arm(rule));
  }

  clear(): void {
    this.#code = [];
  }

  /** The fault for a call at these points, if any rule matches (one use of it is spent). */
  take(points: readonly string[]): FaultHit | null {
    this.#reload();
    for (const list of [this.#code, this.#fromFile]) {
      const hit = list.find((a) => a.left > 0 && (a.rule.on === 'any' || points.includes(a.rule.on)));
      if (!hit) continue;
      hit.left--;
      return hit.rule.recovered ? { recovered: true } : { errno: hit.rule.errno ?? 'EIO' };
    }
    return null;
  }

  #reload(): void {
    if (!this.file) return;
    let stamp: string;
    try {
      const st = fs.statSync(this.file);
      stamp = `${st.mtimeMs}:${st.size}`;
    } catch {
      stamp = 'none';
    }
    if (stamp === this.#fileStamp) return;
    this.#fileStamp = stamp;
    this.#fromFile = [];
    if (stamp === 'none') return;
    try {
      const rules: unknown = JSON.parse(fs.readFileSync(this.file, 'utf8'));
      if (Array.isArray(rules)) this.#fromFile = rules.filter(isRule).map(arm);
    } catch {
      // A half-written file is read again when it changes.
      this.#fileStamp = '';
    }
  }
}

function arm(rule: FaultRule): Armed {
  return { rule, left: rule.times ?? Number.POSITIVE_INFINITY };
}

function isRule(v: unknown): v is FaultRule {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.on === 'string' &&
    (r.errno === undefined || (typeof r.errno === 'string' && /^E[A-Z0-9]+$/.test(r.errno))) &&
    (r.times === undefined || (typeof r.times === 'number' && r.times >= 0))
  );
}
