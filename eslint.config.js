import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.venv/', '.slipway/', 'examples/**/out/', 'bin/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O, no wall clock.
    files: ['src/workflows/**/*.ts', 'src/spec/**/*.ts', 'src/quality/gate*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['node:*', 'fs', 'path', 'child_process', 'undici'], message: 'Workflow code must stay deterministic: do I/O in an activity.' }] }],
      'no-restricted-properties': ['error',
        { object: 'Date', property: 'now', message: 'Use workflow time (Date in the sandbox is replay-safe, Date.now is banned here for clarity).' },
        { object: 'Math', property: 'random', message: 'Use the SDK\'s deterministic random (uuid4 / Math.random is patched but banned for clarity).' },
        { object: 'process', property: 'env', message: 'Workflows never read the environment: pass config in the input.' }],
    },
  },
);
