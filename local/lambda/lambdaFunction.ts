import { ExecutionEnvironment, type FunctionConfig, type InvokeResult, type LogSink, type RuntimeFiles } from './executionEnvironment';

export interface InvokeTiming {
  /** Whether a new execution environment had to start for this invocation. */
  coldStart: boolean;
  /** Invocation start to answer, in ms (a cold start's init included). */
  durationMs: number;
}

/**
 * One Lambda function in the sandbox: its execution environments, reused while warm and started
 * when every warm one is busy (so concurrent invocations, such as a Map's shards, each get their
 * own process, as on Lambda) or after one died.
 */
export class LambdaFunction {
  private readonly environments: ExecutionEnvironment[] = [];
  /** Process start to first answer of each cold start, in ms. */
  readonly coldStarts: Array<{ initMs: number; firstAnswerMs: number }> = [];
  private peakRss = 0;

  constructor(
    readonly config: FunctionConfig,
    private readonly files: RuntimeFiles,
    private readonly log: LogSink,
  ) {}

  async invoke(event: unknown): Promise<InvokeResult & InvokeTiming> {
    const started = Date.now();
    let environment = this.environments.find((candidate) => !candidate.busy && !candidate.dead);
    const coldStart = !environment;
    if (!environment) {
      environment = await ExecutionEnvironment.start(this.config, this.files, this.log);
      this.environments.push(environment);
    }
    try {
      const result = await environment.invoke(event);
      const durationMs = Date.now() - started;
      if (coldStart) this.coldStarts.push({ initMs: environment.initMs ?? durationMs, firstAnswerMs: durationMs });
      return { ...result, coldStart, durationMs };
    } finally {
      this.peakRss = Math.max(this.peakRss, environment.peakRssMiB);
      if (environment.dead) this.environments.splice(this.environments.indexOf(environment), 1);
    }
  }

  /** The largest resident set any of its environments reached during an invocation, in MiB. */
  peakRssMiB(): number {
    return this.peakRss;
  }

  /** Ends every execution environment (warm or busy). */
  async stop(): Promise<void> {
    await Promise.all(this.environments.splice(0).map((environment) => environment.stop()));
  }
}
