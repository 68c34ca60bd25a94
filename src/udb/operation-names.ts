/** The operation behind each `gatehouse udb` command (registered by operations.ts). */
export const UDB_OPERATIONS = {
  batchimport: 'udb-batchimport',
  pwdsheetdata: 'udb-pwdsheetdata',
  jsonimport: 'udb-jsonimport',
  usermod: 'udb-usermod',
} as const;
