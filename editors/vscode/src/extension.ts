// VS Code entry point: starts `encc lsp` over stdio with vscode-languageclient
// for .enc files (diagnostics, hover, go-to-definition, completion, symbols,
// formatting). Highlighting, brackets and snippets are declarative and work
// without the server.
import * as vscode from 'vscode';
import { LanguageClient, LanguageClientOptions, ServerOptions, TransportKind } from 'vscode-languageclient/node';
import { serverCommand, startFailureMessage } from './server';

let client: LanguageClient | undefined;
let output: vscode.OutputChannel | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  output = vscode.window.createOutputChannel('encc');
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('encc.restartServer', () => restart()),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration('encc.path') || e.affectsConfiguration('encc.lsp.enabled')) {
        void restart();
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  await stop();
}

async function start(): Promise<void> {
  const config = vscode.workspace.getConfiguration('encc');
  if (!config.get<boolean>('lsp.enabled', true)) {
    output?.appendLine('encc.lsp.enabled is false: not starting encc lsp');
    return;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  const cmd = serverCommand(config.get<string>('path'), folder);
  const serverOptions: ServerOptions = {
    command: cmd.command,
    args: cmd.args,
    transport: TransportKind.stdio,
    options: folder ? { cwd: folder } : undefined,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'enc' },
      { scheme: 'untitled', language: 'enc' },
    ],
    outputChannel: output,
    synchronize: {
      // imported files change the diagnostics of the files that import them
      fileEvents: vscode.workspace.createFileSystemWatcher('**/*.enc'),
    },
  };
  // The id 'encc' makes the client read the `encc.trace.server` setting.
  const c = new LanguageClient('encc', 'encc language server', serverOptions, clientOptions);
  try {
    await c.start();
    client = c;
    output?.appendLine(`started ${cmd.command} ${cmd.args.join(' ')}`);
  } catch (err) {
    const msg = startFailureMessage(cmd, err);
    output?.appendLine(msg);
    void vscode.window.showErrorMessage(msg, 'Open Settings').then((choice) => {
      if (choice === 'Open Settings') {
        void vscode.commands.executeCommand('workbench.action.openSettings', 'encc.path');
      }
    });
    try {
      await c.dispose();
    } catch {
      // the process never started; nothing to clean up
    }
  }
}

async function stop(): Promise<void> {
  const c = client;
  client = undefined;
  if (c) await c.stop();
}

async function restart(): Promise<void> {
  await stop();
  await start();
}
