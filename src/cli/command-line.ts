/**
 * The flags of every command-line entry point (src/cli/*.ts, bench/*.ts), one behaviour for all:
 * `--help` (or `-h`) prints the usage and exits 0 before anything runs, so asking a command what it
 * does never starts a server, creates a database or a topic, or connects anywhere; an unknown or
 * malformed flag is one line on stderr naming it, exit code 2 (the usage convention for a bad
 * invocation, apart from 1 = the command ran and failed).
 *
 * Call it first, before any work: imports of the entry points have no side effects.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

export interface Command {
  /** How the command is named in messages, e.g. `serve` or `bench/purchase`. */
  name: string;
  /** The whole --help text: a `usage:` line, what it does, its flags and variables, where to read more. */
  usage: string;
}

/** `--help` anywhere before a lone `--` (after it, arguments are positionals by convention). */
function asksForHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** One line for a bad invocation; node's own messages are longer and name the flag in quotes. */
function badInvocation(command: Command, error: unknown): string {
  const code = (error as { code?: string }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']+)'/.exec(message)?.[1];
  const hint = `(${command.name} --help shows the usage)`;
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && quoted) return `${command.name}: unknown option ${quoted} ${hint}`;
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && quoted) return `${command.name}: unexpected argument ${quoted} ${hint}`;
  return `${command.name}: ${message.split('. ')[0]} ${hint}`;
}

/** node:util parseArgs, with --help and bad flags handled as above (neither returns). */
export function parseCommandLine<T extends ParseArgsConfig>(command: Command, config: T): ReturnType<typeof parseArgs<T>> {
  const args = config.args ?? process.argv.slice(2);
  if (asksForHelp(args)) {
    process.stdout.write(command.usage.endsWith('\n') ? command.usage : `${command.usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ ...config, args } as T);
  } catch (error) {
    process.stderr.write(`${badInvocation(command, error)}\n`);
    process.exit(2);
  }
}
