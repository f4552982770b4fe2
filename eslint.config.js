// Lint: typescript-eslint with type information (the type-aware rules are the
// point: a floating promise or a promise passed where a callback is expected is
// how an edge agent dies of an unhandled rejection). Formatting is Prettier's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'bench/out/', 'examples/node-red/node_modules/', '**/*.d.mts'] },
  js.configs.recommended,
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    files: ['**/*.{ts,mts,cts}'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      // Kinds and sims implement Promise-returning interfaces with synchronous
      // bodies on purpose (an `async` method turns a throw into a rejection).
      '@typescript-eslint/require-await': 'off',
      // Messages show whatever JSON a user sent; `String(unknown)` there is deliberate.
      '@typescript-eslint/no-base-to-string': ['error', { checkUnknown: false }],
    },
  },
  {
    // The Node-RED subflow module is CommonJS, as Node-RED loads it. Its functions/ files are
    // the bodies of function nodes: a top-level `return`, and the names Node-RED gives them.
    files: ['examples/node-red/node-red-contrib-dev2mqtt/**/*.js'],
    languageOptions: { sourceType: 'commonjs' },
  },
  {
    files: ['examples/node-red/node-red-contrib-dev2mqtt/functions/*.js'],
    languageOptions: {
      globals: Object.fromEntries(['msg', 'node', 'context', 'flow', 'global', 'env', 'RED'].map((name) => [name, 'readonly'])),
    },
  },
  {
    // Tests lean on vitest's asymmetric matchers (`expect.any(String)` is typed
    // `any`); the promise rules still apply there.
    files: ['test/**/*.ts', 'examples/node-red/test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Failure messages print whatever value came back, objects included.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
);
