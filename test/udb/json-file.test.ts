import fc from 'fast-check';
import t from 'tap';
import { ValidationError } from '../../src/errors.js';
import { parseJsonImport } from '../../src/udb/json-file.js';

t.test('well-formed files parse to typed items', async (t) => {
  t.same(
    parseJsonImport(
      '[{"id": 3, "username": "jdoe", "first_name": "j", "last_name": "d", "password": "p", "extra": 1}]',
    ),
    [{ index: 0, id: 3, username: 'jdoe', first_name: 'j', last_name: 'd', password: 'p' }],
  );
  t.same(parseJsonImport('[]'), []);
});

t.test('every problem is listed in one error', async (t) => {
  t.throws(
    () =>
      parseJsonImport(
        '[{"id": 0, "username": "a", "first_name": "b", "last_name": "c"}, 5, {"id": 2, "password": 1}]',
      ),
    {
      message:
        /item 0: "id" must be a positive integer; item 1: must be an object; item 2: "username" must be a string, "first_name" must be a string, "last_name" must be a string, "password" must be a string when present/,
    },
  );
});

t.test('property: arbitrary input yields items or a ValidationError, nothing else', async () => {
  const value = fc.jsonValue({ maxDepth: 3 });
  const item = fc.record(
    {
      id: fc.oneof(fc.integer(), fc.string(), fc.constant(null)),
      username: fc.oneof(fc.string(), fc.integer()),
      first_name: fc.string(),
      last_name: fc.string(),
      password: fc.oneof(fc.string(), fc.integer()),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        value.map((v) => JSON.stringify(v)),
        fc.array(item).map((a) => JSON.stringify(a)),
      ),
      (text) => {
        try {
          const items = parseJsonImport(text);
          return items.every((i) => Number.isSafeInteger(i.id) && i.id > 0 && typeof i.username === 'string');
        } catch (e) {
          return e instanceof ValidationError;
        }
      },
    ),
  );
});
