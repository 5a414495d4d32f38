// How the extension finds and starts `encc lsp`. Kept free of the vscode
// module so that it can be unit-tested with plain node (test/unit.js).
import * as os from 'os';
import * as path from 'path';

export interface ServerCommand {
  command: string;
  args: string[];
}

/**
 * Turns the `encc.path` setting into the command that starts the server.
 * Empty means `encc` on PATH; `~` is the home directory; `${workspaceFolder}`
 * is replaced; a relative path with a separator is taken relative to the
 * workspace folder (a bare name such as `encc` is looked up on PATH).
 */
export function serverCommand(setting: string | undefined, workspaceFolder?: string): ServerCommand {
  let cmd = (setting ?? '').trim();
  if (cmd === '') cmd = 'encc';
  if (workspaceFolder) cmd = cmd.split('${workspaceFolder}').join(workspaceFolder);
  if (cmd === '~' || cmd.startsWith('~/')) cmd = path.join(os.homedir(), cmd.slice(1));
  const hasSeparator = cmd.includes('/') || (process.platform === 'win32' && cmd.includes('\\'));
  if (hasSeparator && !path.isAbsolute(cmd) && workspaceFolder) cmd = path.resolve(workspaceFolder, cmd);
  return { command: cmd, args: ['lsp'] };
}

/** The message shown when the server cannot be started. */
export function startFailureMessage(cmd: ServerCommand, err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  return (
    `encc: could not start the language server \`${[cmd.command, ...cmd.args].join(' ')}\`: ${reason}. ` +
    'Install encc (go install github.com/encc-lang/encc/cmd/encc@latest) or set "encc.path" to the binary. ' +
    'Syntax highlighting and snippets keep working without it.'
  );
}
