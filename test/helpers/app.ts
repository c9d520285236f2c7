import { Writable } from 'node:stream';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { createApp } from '../../src/bootstrap';
import type { AppConfig } from '../../src/config/app-config';

/** Collects every log line the app writes, for assertions about what is (not) logged. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  get text(): string {
    return this.lines.join('\n');
  }
}

/** Boots the real app (real database, real HTTP server on a free port). */
export async function startApp(
  config: AppConfig,
  logs?: LogCapture,
): Promise<{ app: NestExpressApplication; url: string; close(): Promise<void> }> {
  const app = await createApp(config, { logStream: logs });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { app, url, close: () => app.close() };
}
