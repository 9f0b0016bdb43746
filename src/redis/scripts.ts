/**
 * Loads every `scripts/<name>-<numberOfKeys>.lua` once per connection (BullMQ style): ioredis sends
 * EVALSHA and transparently falls back to EVAL on NOSCRIPT (after a SCRIPT FLUSH or a restart).
 * The command name carries a hash of the script body, so two versions of the service sharing one
 * Redis never run each other's script under the same name.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { Cluster, Redis } from 'ioredis';

const SCRIPTS_DIR = new URL('./scripts/', import.meta.url);

export interface ScriptDefinition {
  name: string;
  numberOfKeys: number;
  lua: string;
  sha: string;
  /** The name ioredis registers the script under. */
  command: string;
}

function loadDefinitions(): Map<string, ScriptDefinition> {
  const definitions = new Map<string, ScriptDefinition>();
  for (const file of readdirSync(SCRIPTS_DIR).sort()) {
    const match = /^([a-zA-Z]+)-(\d+)\.lua$/.exec(file);
    if (!match) continue;
    const [, name, keys] = match as unknown as [string, string, string];
    const lua = readFileSync(new URL(file, SCRIPTS_DIR), 'utf8');
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

export type ScriptObserver = (name: string, seconds: number) => void;

/** Per connection, so each app instance (several in one test process) measures its own calls. */
const observers = new WeakMap<Redis | Cluster, ScriptObserver>();

/** Reports every script call made on `client` with its duration (seckill_redis_script_duration_seconds). */
export function observeScripts(client: Redis | Cluster, observe: ScriptObserver): void {
  observers.set(client, observe);
}

/** Runs a registered script by name; exactly one typed wrapper module calls this per script. */
export function runScript<T>(client: Redis | Cluster, name: string, keys: string[], args: ScriptArg[]): Promise<T> {
  const definition = script(name);
  if (keys.length !== definition.numberOfKeys) {
    throw new Error(`script ${name} takes ${definition.numberOfKeys} keys, got ${keys.length}`);
  }
  const command = (client as unknown as Record<string, (...a: ScriptArg[]) => Promise<T>>)[definition.command];
  if (!command) throw new Error(`script ${name} is not defined on this connection`);
  const observe = observers.get(client);
  if (!observe) return command.call(client, ...keys, ...args);
  const startedAt = performance.now();
  const reply = command.call(client, ...keys, ...args);
  const done = () => observe(name, (performance.now() - startedAt) / 1000);
  reply.then(done, done);
  return reply;
}
