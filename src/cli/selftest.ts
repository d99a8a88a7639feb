import type { Command } from 'commander';
import { errorMessage } from '../core/errors.js';
import { EXIT, fit, printJson, usageExit2, WIDTH } from './tech-common.js';

/**
 * `sitegate selftest [--json] [-c CONFIG]`: the technician's hardware check, run with the daemon
 * stopped (it opens the GPIO lines, the I2C bus and the serial ports itself). Exit 0: every
 * device passed; 1: some failed; 2: usage, config, or the daemon still holds the hardware.
 */
export function registerSelftest(program: Command): void {
  usageExit2(program.command('selftest'))
    .description('pulse each relay, read every input, talk to each reader; one pass/fail line per device (gate stopped)')
    .option('-c, --config <path>', 'gate config file', '/etc/sitegate/gate.yaml')
    .option('--json', 'print the results as JSON')
    .option('--pulse-ms <ms>', 'relay pulse length', '200')
    .action(async (o: { config: string; json?: boolean; pulseMs: string }) => {
      process.exitCode = await selftestCommand(o);
    });
}

async function selftestCommand(o: { config: string; json?: boolean; pulseMs: string }): Promise<number> {
  const pulseMs = Number(o.pulseMs);
  if (!/^\d+$/.test(o.pulseMs) || pulseMs < 50 || pulseMs > 2000) return usage(o, 'bad_option', `--pulse-ms takes 50-2000, not "${o.pulseMs}"`);
  const [{ loadConfigFile }, { gateConfigSchema }, { controlRequest }, { controlSocketPath }] = await Promise.all([
    import('../config/load.js'),
    import('../config/gate-config.js'),
    import('../control/client.js'),
    import('../control/socket-path.js'),
  ]);
  let config;
  try {
    config = loadConfigFile(gateConfigSchema, o.config);
  } catch (err) {
    return usage(o, 'config_invalid', errorMessage(err));
  }
  const socket = controlSocketPath('gate');
  const running = await controlRequest(socket, { cmd: 'ping' }, { timeoutMs: 1000 }).then(
    (r) => r.ok,
    () => false,
  );
  if (running) {
    return usage(o, 'daemon_running', `the gate daemon is running (its control socket ${socket} answers) and holds the relays and readers: stop it first (systemctl stop sitegate-gate), then run selftest`);
  }
  if (config.gpio.driver === 'sim') return usage(o, 'config_invalid', 'gpio.driver "sim" has no hardware to test');

  const [{ systemClock }, { createLogger }, { runSelftest }] = await Promise.all([
    import('../core/clock.js'),
    import('../core/log.js'),
    import('../gate/gate-selftest.js'),
  ]);
  const log = createLogger('sitegate-selftest', process.env.SITEGATE_LOG_LEVEL ?? 'warn');
  let stopGpio = () => undefined as void;
  let gpio;
  try {
    if (config.gpio.driver === 'socket') {
      const { GpioSocketClient } = await import('../gate/hw/gpio-socket.js');
      const client = new GpioSocketClient({ path: config.gpio.socket as string, clock: systemClock });
      await client.start();
      stopGpio = () => client.stop();
      gpio = client;
    } else {
      const { OnoffGpioProvider } = await import('../gate/hw/gpio-onoff.js');
      gpio = new OnoffGpioProvider(systemClock, { sysfsRoot: config.gpio.sysfsRoot });
    }
  } catch (err) {
    return usage(o, 'gpio_unavailable', `cannot open the GPIO lines: ${errorMessage(err)}`);
  }
  try {
    const results = await runSelftest({ config, gpio, clock: systemClock, log, pulseMs });
    const ok = results.every((r) => r.ok);
    if (o.json) printJson({ ok, gateId: config.gateId, results });
    else {
      for (const r of results) process.stdout.write(fit(`${r.ok ? 'PASS' : 'FAIL'}  ${r.device.padEnd(24)} ${r.detail}`, WIDTH) + '\n');
      process.stdout.write(`${results.filter((r) => r.ok).length} of ${results.length} devices passed\n`);
    }
    return ok ? EXIT.ok : EXIT.fault;
  } finally {
    stopGpio();
  }
}

function usage(o: { json?: boolean }, code: string, message: string): number {
  if (o.json) process.stdout.write(JSON.stringify({ error: { code, message } }) + '\n');
  process.stderr.write(`sitegate selftest: ${message}\n`);
  return EXIT.usage;
}
