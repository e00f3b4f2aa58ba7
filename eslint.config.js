// ESLint with typescript-eslint's type-aware rules: `npm run lint` (with tsc and knip).
// Formatting is left alone (no stylistic rules): the code keeps the style it has.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', 'coverage/', 'local/lambda/node22/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The point of type-aware linting in this async code: every promise is awaited, returned or
      // explicitly `void`ed, and no promise is passed where a plain callback is expected.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // `_name` marks a deliberately unused binding; rest siblings drop keys from a copy.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      // A warning at most: most of the `any` sits at the Milvus SDK boundary, a refactor of its own.
      '@typescript-eslint/no-explicit-any': 'warn',
      // The no-unsafe-* family reports every use of an `any` value (about 1,600 findings, nearly
      // all SDK replies); it belongs with that refactor, not here.
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Its findings are `as never` casts at the same SDK boundary (the SDK's request types accept
      // anything) and `!` on indexed reads (the tsconfig has no noUncheckedIndexedAccess).
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `async` without `await` is deliberate here: implementations of Promise-returning interfaces
      // and mocks, whose thrown errors must become rejections.
      '@typescript-eslint/require-await': 'off',
      // Its findings are callback options declared with method syntax, functions taken from
      // modules and process.stdout.write saved for restoring: none of them uses `this`.
      '@typescript-eslint/unbound-method': 'off',
      // Its findings stringify `unknown` values on purpose (cdk.json context values, the value kinds
      // left after every structured one is handled, test annotations).
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests cast to `any` to reach into fakes and malformed inputs on purpose.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // Plain JavaScript files: outside the TypeScript project, so no type-aware rules.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.cjs'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { require: 'readonly', module: 'writable', process: 'readonly', Buffer: 'readonly', __dirname: 'readonly' },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Node scripts in plain ESM (build steps run by the bundler).
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
