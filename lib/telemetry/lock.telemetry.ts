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
