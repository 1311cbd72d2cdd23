import { Catch, type ArgumentsHost } from '@nestjs/common';
import { BaseExceptionFilter } from '@nestjs/core';

/** An app-wide exception filter that records what reached it, then answers as Nest does (`APP_FILTER`). */
@Catch()
export class RecordingFilter extends BaseExceptionFilter {
  static readonly seen: unknown[] = [];

  override catch(exception: unknown, host: ArgumentsHost): void {
    RecordingFilter.seen.push(exception);
    super.catch(exception, host);
  }
}
