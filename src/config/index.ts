export { configSchema, type GatehouseConfig, type GatehouseConfigInput } from './schema.js';
export { defaultConfig, loadConfigFile, parseConfig } from './load.js';
export { parseListen, type HostPort } from './listen.js';
