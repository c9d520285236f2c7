/** Injection token of the DemoInfo (demo mode only). */
export const DEMO_INFO = Symbol('DEMO_INFO');
