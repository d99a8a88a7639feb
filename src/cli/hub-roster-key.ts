import type { Command } from 'commander';
import { join } from 'node:path';
import { loadConfigFile } from '../config/load.js';
import { hubConfigSchema } from '../config/hub-config.js';
import { errorMessage } from '../core/errors.js';
import { rosterKeyFingerprint, rosterPublicKeyText } from '../core/roster-message.js';
import { readOrCreateRosterKey } from '../hub/roster-key.js';


/**
 * `sitegate hub roster-key`: the hub's roster signing key (created on first use) and the line
 * every gate's config pins. Exit codes: 0 done; 2 the key file cannot be read or written.
 */
export function registerHubRosterKey(hub: Command): void {
  hub
    .command('roster-key')
    .description("show the hub's roster signing key (creating it if missing) and the public key each gate pins")
    .option('-c, --config <path>', 'hub config: the key file is its rosterSigning.keyFile (default stateDir/roster-key.pem)', '/etc/sitegate/hub.yaml')
    .option('--key-file <path>', "the hub's Ed25519 roster key (PEM), instead of the config's")
    .option('--json', 'print JSON')
    .action((o: { config: string; keyFile?: string; json?: boolean }) => {
      try {
        if (!o.keyFile) {
          const config = loadConfigFile(hubConfigSchema, o.config);
          o.keyFile = config.rosterSigning.keyFile ?? join(config.stateDir, 'roster-key.pem');
        }
        const { key, created } = readOrCreateRosterKey(o.keyFile);
        const publicKey = rosterPublicKeyText(key);
        const fingerprint = rosterKeyFingerprint(key);
        if (o.json) {
          process.stdout.write(`${JSON.stringify({ keyFile: o.keyFile, created, fingerprint, publicKey })}\n`);
          return;
        }
        process.stdout.write(
          [
            `roster key ${o.keyFile} (${created ? 'created now' : 'existing'}), fingerprint ${fingerprint}`,
            "pin it in every gate's gate.yaml:",
            'roster:',
            `  hubPublicKey: ${publicKey}`,
            '',
          ].join('\n'),
        );
      } catch (err) {
        process.stderr.write(`sitegate: ${errorMessage(err)}\n`);
        process.exitCode = 2;
      }
    });
}
