// Module loader hooks: every module URL that is loaded is appended to $GH_TRACE_IMPORTS.
import fs from 'node:fs';

export async function load(url, context, next) {
  fs.appendFileSync(process.env.GH_TRACE_IMPORTS, `${url}\n`);
  return next(url, context);
}
