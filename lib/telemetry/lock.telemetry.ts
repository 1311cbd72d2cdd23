import { Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import type { LockEvent } from '../interfaces/index.js';
import { LockService } from '../core/lock.service.js';

type OpenTelemetryApi = typeof import('@opentelemetry/api');
type Span = ReturnType<ReturnType<OpenTelemetryApi['trace']['getTracer']>['startSpan']>;

/**
 * Turns `LockService.events` into OpenTelemetry spans and metrics when `@opentelemetry/api` is installed, and
 * does nothing when it is not. Spans: `lock.acquire` (the wait, ended with outcome `acquired` or `busy`) and
 * `lock.hold` (grant to release, or to loss with an error status), each with the attributes `lock.keys`, `lock.mode`
 * (`read` or `write`) and `lock.limit` (a semaphore's limit, else 1). Metrics: counters `nest_lock.acquired`,
 * `nest_lock.busy`, `nest_lock.released`, `nest_lock.lost`; histograms `nest_lock.wait` and `nest_lock.hold` (ms).
 * Leader elections: counters `nest_lock.leader.elected` and `nest_lock.leader.terms_ended` (with `leader.reason`,
 * `resigned` or `lost`), the up-down counter `nest_lock.leader.leading` (1 while this instance leads the name) and the
 * histogram `nest_lock.leader.term` (ms), each with the attribute `leader.name`.
 */
@Injectable()
export class LockTelemetry implements OnModuleInit, OnApplicationShutdown {
  private subscription?: Subscription;

  constructor(private readonly locks: LockService) {}

  async onModuleInit(): Promise<void> {
    // A LockService replaced by a mock (in a test) has no events to record: the app starts all the same.
    const api = this.locks instanceof LockService ? await loadOpenTelemetry() : undefined;
    if (api) {
      this.subscription = this.locks.events.subscribe(recorder(api));
    }
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }
}

async function loadOpenTelemetry(): Promise<OpenTelemetryApi | undefined> {
  try {
    return await import('@opentelemetry/api');
  } catch {
    // Optional peer dependency: without it, telemetry is off.
    return undefined;
  }
}

function recorder(api: OpenTelemetryApi): (event: LockEvent) => void {
  const leadership = leaderRecorder(api);
  const tracer = api.trace.getTracer('nest-lock');
  const meter = api.metrics.getMeter('nest-lock');
  const counters = {
    acquired: meter.createCounter('nest_lock.acquired', { description: 'Locks acquired' }),
    busy: meter.createCounter('nest_lock.busy', { description: 'Acquisitions that gave up on a busy lock' }),
    released: meter.createCounter('nest_lock.released', { description: 'Locks released by their holder' }),
    lost: meter.createCounter('nest_lock.lost', { description: 'Locks lost while held' }),
  };
  const wait = meter.createHistogram('nest_lock.wait', { unit: 'ms', description: 'Time from asking to the outcome' });
  const hold = meter.createHistogram('nest_lock.hold', { unit: 'ms', description: 'Time a lock was held' });
  const holds = new Map<string, Span>();
  const tracing = tracingOn(api);
  return (event) => {
    if (event.type === 'elected' || event.type === 'term-ended') {
      leadership(event);
      return;
    }
    const attributes = { 'lock.keys': event.keys.join(','), 'lock.mode': event.mode, 'lock.limit': event.limit };
    if (event.type === 'acquired' || event.type === 'busy') {
      counters[event.type].add(1, attributes);
      wait.record(event.waited, { ...attributes, 'lock.outcome': event.type });
      if (!tracing()) {
        return;
      }
      const span = tracer.startSpan('lock.acquire', {
        startTime: Date.now() - event.waited,
        attributes: { ...attributes, 'lock.outcome': event.type },
      });
      if (event.type === 'acquired') {
        span.setAttribute('lock.fencing_token', event.fencingToken);
        holds.set(event.token, tracer.startSpan('lock.hold', { attributes: { ...attributes, 'lock.fencing_token': event.fencingToken } }));
      }
      span.end();
    } else if (event.type === 'released' || event.type === 'lost') {
      counters[event.type].add(1, attributes);
      hold.record(event.held, attributes);
      const span = holds.get(event.token);
      holds.delete(event.token);
      if (event.type === 'lost') {
        span?.setStatus({ code: api.SpanStatusCode.ERROR, message: event.reason.message });
      }
      span?.end();
    }
  };
}

/** Leadership changes as metrics: terms begun and ended, whether this instance leads each name, how long terms last. */
function leaderRecorder(api: OpenTelemetryApi): (event: Extract<LockEvent, { type: 'elected' | 'term-ended' }>) => void {
  const meter = api.metrics.getMeter('nest-lock');
  const elected = meter.createCounter('nest_lock.leader.elected', { description: 'Leadership terms this instance began' });
  const ended = meter.createCounter('nest_lock.leader.terms_ended', { description: 'Leadership terms of this instance that ended' });
  const leading = meter.createUpDownCounter('nest_lock.leader.leading', { description: '1 while this instance leads the name' });
  const term = meter.createHistogram('nest_lock.leader.term', { unit: 'ms', description: 'How long a leadership term lasted' });
  return (event) => {
    const attributes = { 'leader.name': event.name };
    if (event.type === 'elected') {
      elected.add(1, attributes);
      leading.add(1, attributes);
      return;
    }
    ended.add(1, { ...attributes, 'leader.reason': event.reason });
    leading.add(-1, attributes);
    term.record(event.led, attributes);
  };
}

/**
 * Whether a tracer provider is registered, asked on every event (one may be registered after the app started):
 * without one, the spans would be built for nothing on every acquisition.
 */
function tracingOn(api: OpenTelemetryApi): () => boolean {
  const none = new api.ProxyTracerProvider().getDelegate();
  return () => {
    const provider = api.trace.getTracerProvider();
    return !(provider instanceof api.ProxyTracerProvider) || provider.getDelegate() !== none;
  };
}
