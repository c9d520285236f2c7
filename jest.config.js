// Jest runs TypeScript through SWC (decorator metadata included). NestJS 12 and jose are
// ES modules: `npm test` starts Node with --experimental-vm-modules so that Jest can
// require() them natively (Node 24.9+), with no transform of node_modules.
const swc = [
  '@swc/jest',
  {
    jsc: {
      target: 'es2023',
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      keepClassNames: true,
    },
    module: { type: 'commonjs' },
  },
];

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e.ts'],
  transform: { '^.+\\.ts$': swc },
  // The generated Prisma client imports its own files with a .js suffix.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  setupFiles: ['<rootDir>/test/setup/quiet-nest-logger.ts'],
  testTimeout: 30000,
  maxWorkers: 2,
};
