// The pvrr debug adapter for VS Code: runs `pvrr dap` (the command from the
// `pvrr.path` setting; `pvrr dap --backend B` when the launch configuration
// has "backend") and talks the Debug Adapter Protocol to it over stdio.
// A launch configuration with "debugServer": PORT connects to a running
// `pvrr dap --port PORT` instead (VS Code handles that attribute itself).
'use strict';
const vscode = require('vscode');

function activate(context) {
    context.subscriptions.push(vscode.debug.registerDebugAdapterDescriptorFactory('pvrr', {
        createDebugAdapterDescriptor(session, executable) {
            const command = vscode.workspace.getConfiguration('pvrr').get('path') || 'pvrr';
            const backend = session.configuration.backend;
            const args = backend ? ['dap', '--backend', backend] : ['dap'];
            return new vscode.DebugAdapterExecutable(command, args);
        }
    }));
}

function deactivate() {}

module.exports = { activate, deactivate };
