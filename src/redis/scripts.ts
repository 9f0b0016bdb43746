/**
 * Loads every `scripts/<name>-<numberOfKeys>.lua` once per connection (BullMQ style): ioredis sends
 * EVALSHA and transparently falls back to EVAL on NOSCRIPT (after a SCRIPT FLUSH or a restart).
 * The command name carries a hash of the script body, so two versions of the service sharing one
 * Redis never run each other's script under the same name.
 *
 * A piece of Lua that several scripts need is written once in `scripts/includes/<name>.lua` and
 * pulled in with a line `--- @include "includes/<name>"`. The include is resolved here, when the
 * text is read, so Redis only ever sees (and hashes, and caches) whole, self-contained scripts: one
 * script is still one atomic step. Each include is inserted at most once per script.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);
const INCLUDE = /^--- @include "(includes\/[A-Za-z]+)"[ \t]*$/gm;

export interface ScriptDefinition {
  name: string;
  numberOfKeys: number;
  /** The script as Redis runs it: its file with every include resolved. */
  lua: string;
  sha: string;
  /** The name ioredis registers the script under. */
  command: string;
}

/** `lua` with each `--- @include` line replaced by that file (resolved in turn); a repeated include adds nothing. */
export function resolveIncludes(lua: string, included = new Set<string>()): string {
  return lua.replace(INCLUDE, (_line, path: string) => {
    if (included.has(path)) return '';
    included.add(path);
    return resolveIncludes(readFileSync(new URL(`${path}.lua`, SCRIPTS_DIR), 'utf8'), included).trimEnd();
  });
}

function loadDefinitions(): Map<string, ScriptDefinition> {
  const definitions = new Map<string, ScriptDefinition>();
  for (const file of readdirSync(SCRIPTS_DIR).sort()) {
    const match = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name, keys] = match as unknown as [string, string, string];
    const lua = resolveIncludes(readFileSync(new URL(file, SCRIPTS_DIR), 'utf8'));
    const sha = createHash('sha1').update(lua).digest('hex');
    definitions.set(name, { name, numberOfKeys: Number(keys), lua, sha, command: `sk_${name}_${sha.slice(0, 8)}` });
  }
  return definitions;
}

export const SCRIPTS: ReadonlyMap<string, ScriptDefinition> = loadDefinitions();

export function script(name: string): ScriptDefinition {
  const definition = SCRIPTS.get(name);
  if (!definition) throw new Error(`no Lua script named ${name}`);
  return definition;
}

export function defineScripts(client: Redis | Cluster): void {
  for (const definition of SCRIPTS.values()) {
    client.defineCommand(definition.command, { numberOfKeys: definition.numberOfKeys, lua: definition.lua });
  }
}

type ScriptArg = string | number | Buffer;

/** One script call, its KEYS and ARGV built by the script's wrapper: run alone or in a MULTI. */
export interface ScriptCall {
  name: string;
  keys: string[];
  args: ScriptArg[];
}

export type ScriptObserver = (name: string, seconds: number) => void;

/** Per connection, so each app instance (several in one test process) measures its own calls. */
const observers = new WeakMap<Redis | Cluster, ScriptObserver>();

/** Reports every script call made on `client` with its duration (seckill_redis_script_duration_seconds). */
export function observeScripts(client: Redis | Cluster, observe: ScriptObserver): void {
  observers.set(client, observe);
}

/** The registered command of `call`, checked against its key count. */
function commandOf(call: ScriptCall): string {
  const definition = script(call.name);
  if (call.keys.length !== definition.numberOfKeys) {
    throw new Error(`script ${call.name} takes ${definition.numberOfKeys} keys, got ${call.keys.length}`);
  }
  return definition.command;
}

/** Runs a registered script by name; exactly one typed wrapper module calls this per script. */
export function runScript<T>(client: Redis | Cluster, name: string, keys: string[], args: ScriptArg[]): Promise<T> {
  const command = (client as unknown as Record<string, (...a: ScriptArg[]) => Promise<T>>)[commandOf({ name, keys, args })];
  if (!command) throw new Error(`script ${name} is not defined on this connection`);
  const observe = observers.get(client);
  if (!observe) return command.call(client, ...keys, ...args);
  const startedAt = performance.now();
  const reply = command.call(client, ...keys, ...args);
  const done = () => observe(name, (performance.now() - startedAt) / 1000);
  reply.then(done, done);
  return reply;
}

/** Runs one call built by a wrapper. */
export function runCall<T>(client: Redis | Cluster, call: ScriptCall): Promise<T> {
  return runScript<T>(client, call.name, call.keys, call.args);
}

/**
 * Runs the calls back to back in one MULTI: Redis lets no other command in between, so a unit one
 * call gives back is seen by the next before any buyer. Their keys must share one slot on a cluster.
 * Returns each call's reply; the first call that failed throws.
 */
export async function runInMulti(client: Redis | Cluster, calls: ScriptCall[]): Promise<unknown[]> {
  const multi = client.multi() as unknown as Record<string, (...a: ScriptArg[]) => unknown> & {
    exec(): Promise<Array<[Error | null, unknown]> | null>;
  };
  for (const call of calls) {
    const command = multi[commandOf(call)];
    if (!command) throw new Error(`script ${call.name} is not defined on this connection`);
    command.call(multi, ...call.keys, ...call.args);
  }
  const results = await multi.exec();
  if (!results) throw new Error(`transaction of ${calls.map((c) => c.name).join(' + ')} aborted`);
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}
