// Lint rules for the whole repository (CI runs `npm run lint`; warnings fail it).
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/** Where the service's code is layered (docs/design.md, "Where the code goes"); cli, demo, chaos and container tooling stand outside. */
const SERVICE = { files: ['src/**/*.ts'], ignores: ['src/cli/**', 'src/demo/**', 'src/chaos/**', 'src/container/**'] };

export default tseslint.config(
  { ignores: ['node_modules/', '.local/', 'web/dist/', 'reports/', 'artifacts/', 'test/http/openapi-client/generated/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'off',
    },
  },
  { files: ['web/**'], languageOptions: { globals: { ...globals.browser, ...globals.worker } } },
  {
    // SQL lives in one repository per aggregate (src/db/repositories/): services call those
    // functions, so every statement on a table is in one file and no service builds a query.
    ...SERVICE,
    ignores: [...SERVICE.ignores, 'src/db/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'kysely', message: 'Queries live in src/db/repositories/; transactions in src/db/tx.ts.' },
            { name: 'mysql2', message: 'MySQL is reached through src/db/.' },
            { name: 'mysql2/promise', message: 'MySQL is reached through src/db/.' },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.property.name=/^(selectFrom|selectNoFrom|insertInto|replaceInto|updateTable|deleteFrom|mergeInto|transaction|connection)$/]',
          message: 'SQL lives in src/db/repositories/ (one module per aggregate); transactions start with src/db/tx.ts.',
        },
      ],
    },
  },
  {
    // One wrapper module per capability in src/redis/ builds each Lua script's KEYS and ARGV; the
    // rest of the service calls those typed wrappers, never a script by name.
    ...SERVICE,
    ignores: [...SERVICE.ignores, 'src/redis/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/redis/scripts.ts'],
              importNames: ['runScript', 'runCall', 'runInMulti', 'script', 'SCRIPTS'],
              message: 'Scripts are called through their wrapper module in src/redis/ (reservations, stock, transfers, waitlist, ...).',
            },
          ],
        },
      ],
    },
  },
);
