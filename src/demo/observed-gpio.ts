import type { GpioProvider, InputLine, InputOptions, Level, LineSpec, OutputLine } from '../gate/hw/gpio.js';

/** Wraps a GPIO provider so the simulated world can react to what the gate drives (a relay opening). */
export class ObservedGpio implements GpioProvider {
  constructor(
    private readonly inner: GpioProvider,
    private readonly onWrite: (spec: LineSpec, value: Level) => void,
  ) {}

  output(spec: LineSpec, initial: Level): OutputLine {
    const line = this.inner.output(spec, initial);
    return {
      write: (v: Level) => {
        line.write(v);
        this.onWrite(spec, v);
      },
      read: () => line.read(),
      close: () => line.close(),
    };
  }

  input(spec: LineSpec, opts: InputOptions): InputLine {
    return this.inner.input(spec, opts);
  }
}
