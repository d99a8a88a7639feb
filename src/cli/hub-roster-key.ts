import type { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import { rosterKeyFingerprint, rosterPublicKeyText } from '../core/roster-message.js';
import { readOrCreateRosterKey } from '../hub/roster-key.js';

const DEFAULT_KEY_FILE = '/var/lib/sitegate-hub/roster-key.pem';

/**
 * `sitegate hub roster-key`: the hub's roster signing key (created on first use) and the line
 * every gate's config pins. Exit codes: 0 done; 2 the key file cannot be read or written.
 */
export function registerHubRosterKey(hub: Command): void {
  hub
    .command('roster-key')
    .description("show the hub's roster signing key (creating it if missing) and the public key each gate pins")
    .option('--key-file <path>', 'the hub\'s Ed25519 roster key (PEM); same as hub.yaml roster.keyFile', DEFAULT_KEY_FILE)
    .option('--json', 'print JSON')
    .action((o: { keyFile: string; json?: boolean }) => {
      try {
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
