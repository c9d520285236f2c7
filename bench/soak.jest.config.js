// `npm run soak`: Jest (the same SWC transform as `npm test`) on bench/soak.test.ts only.
const base = require('../jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  rootDir: '..',
  roots: ['<rootDir>/bench'],
  testMatch: ['**/bench/soak.test.ts'],
  testTimeout: 15 * 60_000,
  maxWorkers: 1,
};
