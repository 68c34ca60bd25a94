/**
 * Defaults the CLI needs before (or without) validating a configuration file: where the data
 * directory is and which token the admin API takes. The schemas use the same constants, so
 * the CLI's quick reading and the validated configuration cannot disagree.
 */
export const DEFAULT_DATA_DIR = './data';
export const DEFAULT_ADMIN_TOKEN = 'demo-admin-token';
