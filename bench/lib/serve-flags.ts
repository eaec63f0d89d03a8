/**
 * The Node flags `npm start` runs the gateway with (package.json): every benchmark child gets them, so
 * the gateway is measured as it ships and the baselines alike.
 */
export const SERVE_FLAGS = ['--max-semi-space-size=4'];
