import { ValidationError } from '../errors.js';

/** One entry of a jsonimport file (the website's user export, spec §7.8). */
export interface JsonImportItem {
  /** 0-based position in the array, for error messages. */
  index: number;
  id: number;
  username: string;
  first_name: string;
  last_name: string;
  password?: string;
}

/**
 * Parses and type-checks a jsonimport file completely before anything is written: a JSON array
 * of objects with integer `id`, string `username`, `first_name`, `last_name` and optional
 * string `password`. Every problem is listed in one ValidationError.
 */
export function parseJsonImport(text: string): JsonImportItem[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ValidationError(`the file is not valid JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(data)) throw new ValidationError('the file must hold a JSON array of user objects');
  const items: JsonImportItem[] = [];
  const problems: string[] = [];
  data.forEach((raw: unknown, index) => {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`item ${index}: must be an object`);
      return;
    }
    const o = raw as Record<string, unknown>;
    const bad: string[] = [];
    if (!Number.isSafeInteger(o.id) || (o.id as number) <= 0) bad.push('"id" must be a positive integer');
    for (const key of ['username', 'first_name', 'last_name'] as const) {
      if (typeof o[key] !== 'string') bad.push(`"${key}" must be a string`);
    }
    if (o.password !== undefined && typeof o.password !== 'string')
      bad.push('"password" must be a string when present');
    if (bad.length > 0) {
      problems.push(`item ${index}: ${bad.join(', ')}`);
      return;
    }
    items.push({
      index,
      id: o.id as number,
      username: o.username as string,
      first_name: o.first_name as string,
      last_name: o.last_name as string,
      ...(typeof o.password === 'string' ? { password: o.password } : {}),
    });
  });
  if (problems.length > 0)
    throw new ValidationError(`nothing imported: ${problems.join('; ')}`, { problems });
  return items;
}
