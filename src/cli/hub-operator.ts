import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { HubConfig } from '../config/hub-config.js';
import { systemClock } from '../core/clock.js';
import { errorMessage, SitegateError } from '../core/errors.js';
import { shanghaiDate } from '../core/shanghai-time.js';
import type { ReportWorkerInfo } from '../hub/report.js';
import type { SecurityToken } from '../hub/security-token.js';

// The hub's config schema, SQLite, MQTT and the registry load inside each action: registering
// these commands must not slow down every other `sitegate` command (`sitegate status` above all).
const hubConfig = async (path: string): Promise<HubConfig> => {
  const [{ loadConfigFile }, { hubConfigSchema }] = await Promise.all([import('../config/load.js'), import('../config/hub-config.js')]);
  return loadConfigFile(hubConfigSchema, path);
};
const commandClient = () => import('./hub-command-client.js');

const CONFIG_DEFAULT = '/etc/sitegate/hub.yaml';

/** Operator commands of the hub: `sitegate hub upload`, `sitegate hub token …`, `sitegate hub report`. */
export function registerHubOperatorCommands(hub: Command): void {
  hub
    .command('upload')
    .description('joint-test mode: ask the running hub to upload a few waiting rows now (paced), and print the result')
    .addOption(new Option('--rows <n>', 'rows to send (1-200)').default(5).argParser(positiveInt))
    .option('-c, --config <path>', 'hub config file', CONFIG_DEFAULT)
    .addOption(new Option('--timeout <s>', 'give up waiting for the hub after this many seconds').default(180).argParser(positiveInt))
    .action(async (o: { rows: number; config: string; timeout: number }) => {
      await run(async () => {
        const { sendHubCommand } = await commandClient();
        const ack = await sendHubCommand(await hubConfig(o.config), { cmd: 'upload-now', rows: o.rows }, o.timeout * 1000);
        process.stdout.write(`${ack.ok ? 'ok' : ack.code}: ${ack.message}\n${ack.result ? `${JSON.stringify(ack.result)}\n` : ''}`);
        return ack.ok ? 0 : 1;
      });
    });

  const token = hub.command('token').description("the site's security token (安全令牌) of the platform profile");
  token
    .command('set <file>')
    .description('install a new security token from FILE (one line); the hub uses it from its next request, the old one stays in the history')
    .option('-c, --config <path>', 'hub config file', CONFIG_DEFAULT)
    .option('--no-notify', 'do not tell the running hub over MQTT (it still notices the new file before its next request)')
    .action(async (file: string, o: { config: string; notify: boolean }) => {
      await run(async () => {
        const config = await hubConfig(o.config);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (err) {
          throw new SitegateError('token_unreadable', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
        }
        const r = (await securityToken(config)).replace(text);
        process.stdout.write(`security token ${r.fingerprint} installed${r.previousFingerprint ? `, replacing ${r.previousFingerprint}` : ''}\n`);
        if (o.notify) {
          try {
            const { sendHubCommand } = await commandClient();
            const ack = await sendHubCommand(config, { cmd: 'reload-token' }, 10_000);
            process.stdout.write(`hub: ${ack.message}\n`);
          } catch (err) {
            process.stdout.write(`hub not told (${errorMessage(err)}); it reads the new token before its next request\n`);
          }
        }
        return 0;
      });
    });
  token
    .command('show')
    .description("the current token's fingerprint and the history of tokens (fingerprints and dates, never a token)")
    .option('-c, --config <path>', 'hub config file', CONFIG_DEFAULT)
    .action(async (o: { config: string }) => {
      await run(async () => {
        const t = await securityToken(await hubConfig(o.config));
        process.stdout.write(`current: ${t.fingerprint() ?? '(unreadable)'}\n`);
        for (const h of t.history()) process.stdout.write(`${h.installed}  ${h.fingerprint}  ${h.source}\n`);
        return 0;
      });
    });

  hub
    .command('report')
    .description('daily attendance per worker and per team: first in, last out, hours on site (Asia/Shanghai), and what still waits for the platform')
    .option('--date <yyyy-MM-dd>', 'the day (default: today in Asia/Shanghai)')
    .option('--csv', 'CSV instead of a table')
    .option('--json', 'JSON instead of a table')
    .option('-c, --config <path>', 'hub config file', CONFIG_DEFAULT)
    .option('--db <path>', "the hub's database (default: hub.db in the config's stateDir)")
    .action(async (o: { date?: string; csv?: boolean; json?: boolean; config: string; db?: string }) => {
      await run(async () => {
        const [config, { readRegistryWorkers }, { dailyReport, reportCsv, reportText }] = await Promise.all([
          hubConfig(o.config),
          import('../hub/registry-file.js'),
          import('../hub/report.js'),
        ]);
        let workers: Map<string, ReportWorkerInfo> | undefined;
        try {
          workers = readRegistryWorkers(config.stateDir);
        } catch {
          workers = undefined; // names and teams then come from the upload queue
        }
        const now = systemClock.now();
        const report = dailyReport(o.db ?? join(config.stateDir, 'hub.db'), o.date ?? shanghaiDate(now), {
          nowMs: now,
          ...(workers ? { workers } : {}),
          countTimeouts: config.platform.rowsFrom === 'confirmed-or-timeout',
        });
        process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : o.csv ? reportCsv(report) : reportText(report));
        return 0;
      });
    });
}

async function securityToken(config: HubConfig): Promise<SecurityToken> {
  if (!config.platform.securityTokenFile) {
    throw new SitegateError('no_security_token', `platform.securityTokenFile is not set in the hub config (profile ${config.platform.profile})`);
  }
  const { SecurityToken } = await import('../hub/security-token.js');
  return new SecurityToken({
    file: config.platform.securityTokenFile,
    historyFile: join(config.stateDir, 'security-token-history.jsonl'),
    clock: systemClock,
  });
}

async function run(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    process.stderr.write(`sitegate hub: ${errorMessage(err)}\n`);
    process.exitCode = 2;
  }
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number, got "${v}"`);
  return n;
}
