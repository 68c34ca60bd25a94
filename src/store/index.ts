export { Store, type StoreOptions } from './store.js';
export type * from './types.js';
