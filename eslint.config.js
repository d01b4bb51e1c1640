// @ts-check
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'eslint.config.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // The package index loads client-node's generated API (≈ 1,000 modules, 46 MiB per
      // process); import the module you need (…/dist/config.js) — see src/cli/lean-modules.ts.
      '@typescript-eslint/no-restricted-imports': ['error', {
        paths: [{ name: '@kubernetes/client-node', message: 'Import @kubernetes/client-node/dist/<module>.js: the index loads the whole generated API (src/cli/lean-modules.ts).', allowTypeImports: true }],
      }],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      // node:test's describe/it return promises that the runner awaits itself.
      '@typescript-eslint/no-floating-promises': 'off',
    },
  },
);
