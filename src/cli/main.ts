#!/usr/bin/env node
import { Command, Option } from 'commander';
import { createLogger } from '../core/log.js';

// Daemons and the demo are imported inside their actions, so that a technician's quick command
// (`sitegate status`) does not load the gate, the hub, SQLite, MQTT and PKCS#11 first.

const program = new Command()
  .name('sitegate')
  .description('Turnstile gate controller and site hub for real-name attendance')
  .showHelpAfterError();

program
  .command('gate')
  .description('run the gate controller daemon')
  .option('-c, --config <path>', 'config file', '/etc/sitegate/gate.yaml')
  .action(async (o: { config: string }) => {
    const log = createLogger('sitegate-gate');
    const [{ runDaemon }, { loadConfigFile }, { gateConfigSchema }, { Gate }, { controlSocketPath }] = await Promise.all([
      import('./daemon.js'),
      import('../config/load.js'),
      import('../config/gate-config.js'),
      import('../gate/gate.js'),
      import('../control/socket-path.js'),
    ]);
    await runDaemon(
      'gate',
      log,
      async () => {
        const gate = new Gate({ config: loadConfigFile(gateConfigSchema, o.config), configPath: o.config, log });
        await gate.start();
        return gate;
      },
      { controlSocket: controlSocketPath('gate') },
    );
  });

// `sitegate hub` runs the daemon; operator commands are its subcommands (`sitegate hub report` …).
export const hubCommand = program.command('hub').description('the site hub: run the daemon (default) or an operator command');
hubCommand
  .command('run', { isDefault: true })
  .description('run the site hub daemon')
  .option('-c, --config <path>', 'config file', '/etc/sitegate/hub.yaml')
  .action(async (o: { config: string }) => {
    const log = createLogger('sitegate-hub');
    const [{ runDaemon }, { loadConfigFile }, { hubConfigSchema }, { Hub }, { controlSocketPath }] = await Promise.all([
      import('./daemon.js'),
      import('../config/load.js'),
      import('../config/hub-config.js'),
      import('../hub/hub.js'),
      import('../control/socket-path.js'),
    ]);
    await runDaemon(
      'hub',
      log,
      async () => {
        const hub = new Hub({ config: loadConfigFile(hubConfigSchema, o.config), loadConfig: () => loadConfigFile(hubConfigSchema, o.config), log });
        await hub.start();
        return hub;
      },
      { controlSocket: controlSocketPath('hub') },
    );
  });

program
  .command('platform-sim')
  .description('run the municipal platform simulator (national profile)')
  .option('-c, --config <path>', 'config file', '/etc/sitegate/platform-sim.yaml')
  .action(async (o: { config: string }) => {
    const log = createLogger('sitegate-platform-sim');
    const [{ runDaemon }, { loadConfigFile, readSecretFile }, { platformSimConfigSchema }, { systemClock }, { PlatformSimulator }] = await Promise.all([
      import('./daemon.js'),
      import('../config/load.js'),
      import('../config/platform-sim-config.js'),
      import('../core/clock.js'),
      import('../municipal/platform-sim.js'),
    ]);
    await runDaemon('platform-sim', log, async () => {
      const c = loadConfigFile(platformSimConfigSchema, o.config);
      const sim = new PlatformSimulator({
        apps: c.apps.map((a) => ({ appId: a.appId, appSecret: readSecretFile(a.appSecretFile, `app secret of ${a.appId}`) })),
        clock: systemClock,
        host: c.listen.host,
        port: c.listen.port,
        path: c.listen.path,
        rateLimit: c.rateLimit,
        allowList: c.allowList,
        resultDelayMs: c.resultDelayMs,
      });
      const { port } = await sim.start();
      log.info({ url: `http://${c.listen.host}:${port}${c.listen.path}`, rateLimit: c.rateLimit }, 'platform simulator listening');
      return sim;
    });
  });

program
  .command('demo')
  .description('run the whole site on this machine: broker, tokens, platform simulator, hub and two gates')
  .addOption(new Option('--workers <n>', 'day-shift workers who badge in').default(200).argParser((v) => parseInt(v, 10)))
  .addOption(new Option('--departures <n>', 'night-shift workers who badge out').default(40).argParser((v) => parseInt(v, 10)))
  .option('--dir <path>', 'working directory (default: a new temporary one)')
  .option('--keep', 'keep the working directory afterwards')
  .option('--quiet', 'print only the summary')
  .option('--no-faces', 'demo without face matching (quicker)')
  .addOption(new Option('--timeout <s>', 'give up after this many seconds').default(600).argParser((v) => parseInt(v, 10)))
  .action(async (o: { workers: number; departures: number; dir?: string; keep?: boolean; quiet?: boolean; faces?: boolean; timeout: number }, cmd: Command) => {
    const { runDemo } = await import('./demo.js');
    // --no-faces given on the command line wins; otherwise SITEGATE_DEMO_FACES or the default (on)
    if (cmd.getOptionValueSource('faces') !== 'cli') delete o.faces;
    process.exitCode = await runDemo(o);
  });

// Further commands register here, one line each: registerXxx(program) or registerXxx(hubCommand).
// (cli-commands)
import { registerFaceEval } from './face-eval.js';
registerFaceEval(program);
import { registerTechCommands } from './tech-commands.js';
registerTechCommands(program);
import { registerHubOperatorCommands } from './hub-operator.js';
registerHubOperatorCommands(hubCommand);
import { registerHubWorkers } from './hub-workers.js';
registerHubWorkers(hubCommand);
import { registerHubRosterKey } from './hub-roster-key.js';
registerHubRosterKey(hubCommand);
import { registerSelftest } from './selftest.js';
registerSelftest(program);

await program.parseAsync(process.argv);
