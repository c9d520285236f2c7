// Specs of a single class log through Nest's default console logger, and the warnings and errors
// they provoke on purpose would print stacks into a passing run. Silence it; an app built by
// createApp installs its own (pino, LOG_LEVEL silent in tests unless a test captures logs), and
// tests that check what is logged spy on Logger or capture pino's output.
import { Logger } from '@nestjs/common';

Logger.overrideLogger(false);
