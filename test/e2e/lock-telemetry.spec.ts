import { metrics, trace, SpanStatusCode } from '@opentelemetry/api';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { bootLockApp } from '../support/app';
import { useTestRedis } from '../support/redis';
import { changeTo } from '../support/leadership';

describe('OpenTelemetry spans and metrics (with @opentelemetry/api installed)', () => {
  const test = useTestRedis('telemetry');
  const spans = new InMemorySpanExporter();
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });

  beforeAll(() => {
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  });

  afterAll(async () => {
    await reader.shutdown();
    trace.disable();
    metrics.disable();
  });

  it('records lock.acquire and lock.hold spans, and counters and histograms of waits and holds', async () => {
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const lock = await locks.acquire('traced');
    await locks.acquire('traced', { waitTimeout: 30 }).catch(() => undefined);
    await lock.release();
    const doomed = await locks.acquire('doomed', { ttl: 50, autoExtend: false });
    await new Promise((resolve) => doomed.signal.addEventListener('abort', resolve));
    await reader.forceFlush();
    await app.close();

    const finished = spans.getFinishedSpans().map((span) => ({
      name: span.name,
      keys: span.attributes['lock.keys'],
      outcome: span.attributes['lock.outcome'],
      error: span.status.code === SpanStatusCode.ERROR,
    }));
    expect(finished).toEqual([
      { name: 'lock.acquire', keys: 'traced', outcome: 'acquired', error: false },
      { name: 'lock.acquire', keys: 'traced', outcome: 'busy', error: false },
      { name: 'lock.hold', keys: 'traced', outcome: undefined, error: false },
      { name: 'lock.acquire', keys: 'doomed', outcome: 'acquired', error: false },
      { name: 'lock.hold', keys: 'doomed', outcome: undefined, error: true },
    ]);

    const recorded = new Map(
      metricExporter
        .getMetrics()
        .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
        .map((metric) => [
          metric.descriptor.name,
          metric.dataPoints.reduce(
            (sum, point) => sum + (typeof point.value === 'number' ? point.value : (point.value as { count: number }).count),
            0,
          ),
        ]),
    );
    expect(Object.fromEntries(recorded)).toEqual({
      'nest_lock.acquired': 2,
      'nest_lock.busy': 1,
      'nest_lock.released': 1,
      'nest_lock.lost': 1,
      'nest_lock.wait': 3,
      'nest_lock.hold': 2,
    });
  });

  it('labels spans and metrics with the mode and limit of read locks and semaphore permits', async () => {
    spans.reset();
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    await locks.using('doc', () => undefined, { mode: 'read' });
    await locks.using('pool', () => undefined, { limit: 3 });
    await reader.forceFlush();
    await app.close();
    const labels = spans
      .getFinishedSpans()
      .map((span) => [span.name, span.attributes['lock.keys'], span.attributes['lock.mode'], span.attributes['lock.limit']]);
    expect(labels).toEqual([
      ['lock.acquire', 'doc', 'read', 1],
      ['lock.hold', 'doc', 'read', 1],
      ['lock.acquire', 'pool', 'write', 3],
      ['lock.hold', 'pool', 'write', 3],
    ]);
    const points = metricExporter
      .getMetrics()
      .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
      .filter((metric) => metric.descriptor.name === 'nest_lock.acquired')
      .flatMap((metric) => metric.dataPoints.map((point) => point.attributes));
    expect(points).toEqual(
      expect.arrayContaining([expect.objectContaining({ 'lock.keys': 'pool', 'lock.mode': 'write', 'lock.limit': 3 })]),
    );
  });

  it('counts leadership terms begun and ended (with the reason), whether the instance leads, and how long terms last', async () => {
    metricExporter.reset();
    const { app, locks } = await bootLockApp({ prefix: test.prefix });
    const leadership = locks.elect('jobs', { ttl: 1_000, retry: 100 });
    await changeTo(leadership, true);
    await reader.forceFlush();
    const leadingWhileLeader = leaderPoints('nest_lock.leader.leading');
    await leadership.resign();
    await reader.forceFlush();
    await app.close();
    expect(leadingWhileLeader).toEqual([{ attributes: { 'leader.name': 'jobs' }, value: 1 }]);
    expect(leaderPoints('nest_lock.leader.leading')).toEqual([{ attributes: { 'leader.name': 'jobs' }, value: 0 }]);
    expect(leaderPoints('nest_lock.leader.elected')).toEqual([{ attributes: { 'leader.name': 'jobs' }, value: 1 }]);
    expect(leaderPoints('nest_lock.leader.terms_ended')).toEqual([
      { attributes: { 'leader.name': 'jobs', 'leader.reason': 'resigned' }, value: 1 },
    ]);
    expect(leaderPoints('nest_lock.leader.term')).toEqual([
      { attributes: { 'leader.name': 'jobs' }, value: expect.objectContaining({ count: 1 }) },
    ]);
  });

  /** The data points of one metric in the latest export. */
  function leaderPoints(name: string): Array<{ attributes: unknown; value: unknown }> {
    const exports = metricExporter.getMetrics();
    return (exports[exports.length - 1]?.scopeMetrics ?? [])
      .flatMap((scope) => scope.metrics)
      .filter((metric) => metric.descriptor.name === name)
      .flatMap((metric) => metric.dataPoints.map((point) => ({ attributes: point.attributes, value: point.value })));
  }
});
