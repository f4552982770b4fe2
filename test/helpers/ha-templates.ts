/**
 * Home Assistant's templates rendered by Jinja itself: a Python process
 * running ha_templates.py (HA's environment, filters and undefined handling),
 * asked over a pipe, one JSON line per template.
 *
 * The interpreter is chosen on purpose: DEV2MQTT_PYTHON when set (that one
 * only), else Debian's /usr/bin/python3 (python3-jinja2), then `python3` on
 * PATH (often a pyenv without jinja2); the first that imports jinja2 wins.
 * Without one, the suites that render fail under CI=true and skip with the
 * reason outside.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inCI, noteSkip } from './tools.js';

const SCRIPT = fileURLToPath(new URL('./ha_templates.py', import.meta.url));

export interface Rendered {
  /** The rendered text; null when rendering failed. */
  readonly output: string | null;
  /** Why HA would drop the message: a render error, or attributes that are not a JSON object. */
  readonly error: string | null;
  /** What HA logs as "Template variable warning". */
  readonly warnings: readonly string[];
}

export type TemplateRequest =
  | { readonly mode: 'value' | 'attributes'; readonly template: string; readonly payload: string }
  | { readonly mode: 'command'; readonly template: string; readonly value: unknown };

function importsJinja(python: string): string | undefined {
  const r = spawnSync(python, ['-c', 'import jinja2, sys; print(jinja2.__version__, sys.version.split()[0])'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function findPython(): { python: string; versions: string } | { missing: string } {
  const tried: string[] = [];
  const named = process.env.DEV2MQTT_PYTHON;
  for (const python of named ? [named] : ['/usr/bin/python3', 'python3']) {
    const versions = importsJinja(python);
    if (versions) return { python, versions };
    tried.push(python);
  }
  return { missing: `no Python with jinja2 (tried ${tried.join(', ')}; apt-get install python3-jinja2)` };
}

let found: ReturnType<typeof findPython> | undefined;

/** The interpreter the renders use, resolved once. */
export function jinjaPython(): ReturnType<typeof findPython> {
  found ??= findPython();
  return found;
}

/** True when Jinja can render here; under CI a missing one throws, elsewhere it warns and the caller skips. */
export function haveJinja(): boolean {
  const p = jinjaPython();
  if ('python' in p) return true;
  if (inCI) throw new Error(`CI=true and ${p.missing}; .ci/run should have installed it`);
  // In the run's closing list of skipped suites, with the others (a console line here scrolls away).
  noteSkip('the suites that render Home Assistant templates', p.missing);
  return false;
}

export class HaTemplates {
  readonly #proc: ChildProcessWithoutNullStreams;
  readonly #waiting = new Map<number, (r: Rendered) => void>();
  #next = 0;
  #stderr = '';

  private constructor(python: string) {
    this.#proc = spawn(python, ['-u', SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.#proc.stderr.on('data', (d: Buffer) => (this.#stderr += d.toString()));
    createInterface({ input: this.#proc.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as Rendered & { id: number };
      this.#waiting.get(answer.id)?.({ output: answer.output, error: answer.error, warnings: answer.warnings });
      this.#waiting.delete(answer.id);
    });
    this.#proc.on('exit', (code) => {
      for (const done of this.#waiting.values()) done({ output: null, error: `renderer exited (${code}): ${this.#stderr}`, warnings: [] });
      this.#waiting.clear();
    });
  }

  static start(): HaTemplates {
    const p = jinjaPython();
    if (!('python' in p)) throw new Error(p.missing);
    return new HaTemplates(p.python);
  }

  render(request: TemplateRequest): Promise<Rendered> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#proc.stdin.write(`${JSON.stringify({ ...request, id })}\n`);
    });
  }

  /** A value template over a payload, as an entity renders what arrives on its state topic. */
  value(template: string, payload: string): Promise<Rendered> {
    return this.render({ mode: 'value', template, payload });
  }

  async close(): Promise<void> {
    if (this.#proc.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#proc.once('exit', resolve));
    this.#proc.stdin.end();
    await exited;
  }
}
