import type { JSONRPCMessage, MessageExtraInfo, Transport } from '@modelcontextprotocol/server';

/**
 * An SDK Transport whose whole life is one HTTP exchange with one JSON-RPC request: the message
 * goes in through `deliver`, the response comes out through `onResponse`. Notifications the
 * server emits while handling (progress, logs) are dropped, as in the SDK's JSON response mode.
 */
export class ExchangeTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: <T extends JSONRPCMessage>(message: T, extra?: MessageExtraInfo) => void;

  constructor(private readonly onResponse: (message: JSONRPCMessage) => void) {}

  async start(): Promise<void> {}

  async send(message: JSONRPCMessage): Promise<void> {
    if ('id' in message && ('result' in message || 'error' in message)) this.onResponse(message);
  }

  async close(): Promise<void> {
    const onclose = this.onclose;
    this.onclose = undefined;
    onclose?.();
  }

  deliver(message: JSONRPCMessage, extra?: MessageExtraInfo): void {
    this.onmessage?.(message, extra);
  }
}
