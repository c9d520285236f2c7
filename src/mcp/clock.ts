import { Injectable } from '@nestjs/common';

/** The time, behind an injectable so tests can move it. Milliseconds since the epoch. */
@Injectable()
export class Clock {
  now(): number {
    return Date.now();
  }
}
